"""`corpus compact`: a warehouse fed by several runs (one small file per partition per commit) is merged
partition by partition; every row stays, the views answer the same, near-dedup still reads texts back
through the signatures, a run in progress blocks it, and a compaction that stops half-way leaves a valid
warehouse that the next one completes."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pyarrow.parquet as pq
import pytest
from command import corpus
from sites import make_article, syndicated_page, write_site

from flows.analyst import search
from flows.config import load_config
from flows.ingest import ingest
from flows.run import Run
from flows.warehouse import Warehouse
from flows.warehouse import compact as compaction
from flows.warehouse.tables import DOCUMENTS, SIGNATURES

pytestmark = pytest.mark.flow

SNAPSHOT = {
    "documents": "select * exclude (tags), list_sort(tags) as tags from documents order by doc_id",
    "articles": "select doc_id, copies, title from articles order by doc_id",
    "rejects": "select url, reason, run_id from rejects order by url, run_id",
    "daily_counts": "select * from daily_counts order by all",
    "signatures": "select doc_id, cluster_id, bands from internal.signatures order by doc_id",
}


def snapshot(catalog: str) -> dict[str, list[tuple]]:
    with duckdb.connect(catalog, read_only=True) as con:
        return {name: con.execute(sql).fetchall() for name, sql in SNAPSHOT.items()}


@pytest.fixture
def fed(tmp_path: Path, make_config) -> tuple[Path, Warehouse]:
    """Three runs, each adding articles across several months (and a page with no text, a reject)."""
    site = tmp_path / "site"
    config = make_config(
        '[warehouse]\npath = "wh"\n'
        '[[sources]]\nname = "news"\nkind = "files"\npath = "site/**/*.html"\nurl_prefix = "https://"\n'
    )
    for run in range(3):
        write_site(site, 6, start=run * 6)
        empty = site / "news.test" / "empty" / f"{run}.html"
        empty.parent.mkdir(parents=True, exist_ok=True)
        empty.write_text("<html><body><nav>Home</nav></body></html>")
        assert ingest(str(config)).ok
    return config, Warehouse.of_config(load_config(config))


def test_compaction_keeps_every_row_and_merges_each_partition(fed: tuple[Path, Warehouse]) -> None:
    _, store = fed
    before = snapshot(store.catalog)
    files_before = sorted(store.files(DOCUMENTS))
    assert (
        len(before["documents"]) == 18 and len(before["rejects"]) == 3
    )  # each empty page is recorded once, whichever runs turned it down

    report = compaction.compact(store)

    after = snapshot(store.catalog)
    assert after == before
    documents = next(t for t in report.tables if t.table == "documents")
    assert documents.files_before == len(files_before) > documents.files_after == documents.partitions
    assert documents.rows == 18
    partitions = compaction.partitions(store, DOCUMENTS, "news")
    assert all(len(p.files) == 1 for p in partitions)
    assert not Path(store.path(compaction.WORK)).exists()
    merged = pq.ParquetFile(partitions[0].files[0])
    assert merged.schema_arrow.metadata[b"corpus.schema_version"]  # views read the version as before
    dates = merged.read(columns=["published_utc"]).column(0).to_pylist()
    assert dates == sorted(dates)
    # every signature points at the merged file that holds its document
    signatures = pq.read_table(next(iter(store.files(SIGNATURES))), columns=["doc_id", "doc_file"])
    for doc_id, doc_file in zip(*signatures.to_pydict().values(), strict=True):
        assert store.read_text(doc_file, doc_id)
        assert doc_file in {p.files[0] for p in partitions}
    # a second compaction has nothing to do
    again = compaction.compact(store)
    assert sum(t.partitions for t in again.tables) == 0


def test_near_duplicates_are_found_against_compacted_files(fed: tuple[Path, Warehouse]) -> None:
    config, store = fed
    compaction.compact(store)
    article = make_article(2)  # stored by the first run, now inside a merged file
    copy = config.parent / "site" / "wire.test" / "copy.html"
    copy.parent.mkdir(parents=True)
    copy.write_text(
        syndicated_page(article, "https://wire.test/copy.html", "https://wire.test/copy.html", "Republished.")
    )
    assert ingest(str(config)).ok  # a new process' index: the original's text is read back from disk
    with duckdb.connect(store.catalog, read_only=True) as con:
        original, duplicate_of, similarity = con.execute(
            "select (select doc_id from documents where url like '%story-2.html'), duplicate_of, similarity "
            "from documents where url = 'https://wire.test/copy.html'"
        ).fetchone()
    assert duplicate_of == original and similarity < 1.0


def test_search_index_follows_the_merged_files(fed: tuple[Path, Warehouse]) -> None:
    _, store = fed
    assert search.refresh(store).documents == 18  # indexed after each ingest
    top = search.search(store, "exports pipeline trade").to_pylist()
    report = compaction.compact(store)
    assert report.search_updated
    refreshed = search.refresh(store)
    assert (refreshed.added, refreshed.documents) == (0, 18)  # nothing indexed twice
    assert (
        search.search(store, "exports pipeline trade").to_pylist() == top
    )  # snippets read from merged files


def test_a_running_ingest_blocks_compaction(fed: tuple[Path, Warehouse]) -> None:
    config, store = fed
    run = Run.begin(config, None, store.root)
    with run, pytest.raises(compaction.CompactError, match=f"run {run.ref.run_id} is still going"):
        compaction.compact(store)
    assert sum(t.partitions for t in compaction.compact(store).tables) > 0


def test_a_compaction_that_stops_halfway_leaves_the_old_files_valid(
    fed: tuple[Path, Warehouse], monkeypatch: pytest.MonkeyPatch
) -> None:
    _, store = fed
    before = snapshot(store.catalog)
    swaps = []
    real_exchange = compaction.exchange

    def crash_on_third(new: str, old: str) -> None:
        swaps.append(old)
        if len(swaps) == 3:
            raise OSError(5, "input/output error (simulated)")
        real_exchange(new, old)

    monkeypatch.setattr(compaction, "exchange", crash_on_third)
    with pytest.raises(OSError, match="simulated"):
        compaction.compact(store)
    monkeypatch.undo()
    assert snapshot(store.catalog) == before  # two partitions merged, the rest as they were
    assert Path(store.path(compaction.WORK)).exists()  # the interrupted work, never globbed by views

    report = compaction.compact(store)
    assert snapshot(store.catalog) == before
    assert sum(t.partitions for t in report.tables) > 0
    assert not Path(store.path(compaction.WORK)).exists()


def test_stale_signature_pointers_are_repaired(fed: tuple[Path, Warehouse], monkeypatch) -> None:
    """A compaction that stopped after merging documents but before their signatures: texts are still
    found (in the partition's other files) and the next compaction re-aims the pointers."""
    _, store = fed
    real_merge = compaction._merge

    def documents_only(store_: Warehouse, partition, work, report, replacing=None) -> None:
        if partition.table is SIGNATURES:
            raise KeyboardInterrupt
        real_merge(store_, partition, work, report, replacing)

    monkeypatch.setattr(compaction, "_merge", documents_only)
    with pytest.raises(KeyboardInterrupt):
        compaction.compact(store)
    monkeypatch.undo()
    signatures = pq.read_table(list(store.files(SIGNATURES)), columns=["doc_id", "doc_file"]).to_pylist()
    assert not any(Path(row["doc_file"]).exists() for row in signatures)
    assert all(store.read_text(row["doc_file"], row["doc_id"]) for row in signatures)

    compaction.compact(store)
    signatures = pq.read_table(list(store.files(SIGNATURES)), columns=["doc_file"]).column(0).to_pylist()
    assert all(Path(path).exists() for path in signatures)


def test_cli_reports_before_and_after(fed: tuple[Path, Warehouse]) -> None:
    config, _ = fed
    result = corpus("compact", "-c", str(config))
    assert result.returncode == 0, result.stderr
    assert "files before" in result.stdout and "documents" in result.stdout
    assert "partitions merged in" in result.stdout
    unknown = corpus("compact", "-c", str(config), "--source", "nope")
    assert unknown.returncode == 1
    assert "no stored data for source 'nope'" in unknown.stderr
    assert len(unknown.stderr.strip().splitlines()) == 1
