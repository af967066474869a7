"""The deduplicator, called directly (no flow): each row's verdict and cluster, within one commit, across
commits, and across runs (a fresh deduplicator reads what is stored)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from sites import make_article, news_page, syndicated_page

from flows.config import DedupConfig
from flows.dedup.deduplicator import Deduplicator
from flows.extract.options import ExtractOptions
from flows.extract.page import extract_page
from flows.records import DocumentRow, Page
from flows.warehouse import Warehouse
from flows.warehouse.tables import DOCUMENTS, SIGNATURES

pytestmark = pytest.mark.unit

OPTIONS = ExtractOptions(signature=DedupConfig())


def row(html: str, url: str) -> DocumentRow:
    page = Page(url, html.encode(), datetime(2025, 7, 1, tzinfo=UTC), url)
    document = extract_page(page, OPTIONS).document
    assert document is not None
    return document


def commit(dedup: Deduplicator, warehouse: Warehouse, rows: list[DocumentRow], seq: int) -> list[DocumentRow]:
    """What a run's commit does with the deduplicator: classify, store the kept rows and their signatures."""
    dedup.refresh()
    classified = dedup.classify(rows)
    written = warehouse.write_partitioned(DOCUMENTS, classified.kept, "s", "run1", seq)
    signatures = dedup.committed(written, classified.pending)
    signed = warehouse.write_partitioned(SIGNATURES, signatures, "s", "run1", seq)
    dedup.record("s", written, signed)
    return classified.kept


def test_new_copies_and_near_copies_within_one_commit(tmp_path: Path) -> None:
    warehouse = Warehouse(str(tmp_path / "wh"))
    dedup = Deduplicator(warehouse, DedupConfig())
    article, other = make_article(1, paragraphs=8), make_article(2, paragraphs=8)
    original = row(news_page(article, "https://a.test/1.html"), "https://a.test/1.html")
    same_page_again = row(news_page(article, "https://a.test/1.html"), "https://a.test/1.html")
    same_text_elsewhere = row(news_page(article, "https://a.test/1.html"), "https://mirror.test/1.html")
    syndicated = row(
        syndicated_page(article, "https://b.test/x.html", "https://a.test/1.html"), "https://b.test/x.html"
    )
    unrelated = row(news_page(other, "https://a.test/2.html"), "https://a.test/2.html")
    classified = dedup.classify([original, same_page_again, same_text_elsewhere, syndicated, unrelated])

    kept = {r["url"]: r for r in classified.kept}
    assert list(kept) == [
        "https://a.test/1.html",
        "https://mirror.test/1.html",
        "https://b.test/x.html",
        "https://a.test/2.html",
    ]  # the same page version again is not stored twice
    assert classified.duplicates == 3  # the page again, its exact copy, its near copy
    first = kept["https://a.test/1.html"]
    assert first["cluster_id"] == first["doc_id"] and first["duplicate_of"] is None
    assert kept["https://mirror.test/1.html"]["duplicate_of"] == first["doc_id"]
    assert kept["https://mirror.test/1.html"]["similarity"] == 1.0
    near = kept["https://b.test/x.html"]
    assert near["cluster_id"] == first["doc_id"] and near["duplicate_of"] == first["doc_id"]
    assert near["similarity"] is not None and 0.6 <= near["similarity"] <= 1.0
    assert kept["https://a.test/2.html"]["cluster_id"] == kept["https://a.test/2.html"]["doc_id"]
    assert all("bands" not in r and "paragraphs" not in r for r in classified.kept)  # used, then dropped


def test_clusters_hold_across_commits_and_runs(tmp_path: Path) -> None:
    warehouse = Warehouse(str(tmp_path / "wh"))
    article = make_article(3, paragraphs=8)
    first_run = Deduplicator(warehouse, DedupConfig())
    stored = commit(
        first_run, warehouse, [row(news_page(article, "https://a.test/3"), "https://a.test/3")], 1
    )
    cluster = stored[0]["cluster_id"]

    # a later commit of the same run, then a new run reading only what is stored
    copy = row(syndicated_page(article, "https://b.test/3", "https://a.test/3"), "https://b.test/3")
    assert commit(first_run, warehouse, [copy], 2)[0]["cluster_id"] == cluster
    later_run = Deduplicator(warehouse, DedupConfig())
    again = [row(news_page(article, "https://a.test/3"), "https://a.test/3")]
    assert commit(later_run, warehouse, again, 3) == []  # already stored: nothing written
    mirror = row(syndicated_page(article, "https://c.test/3", "https://a.test/3"), "https://c.test/3")
    assert commit(later_run, warehouse, [mirror], 4)[0]["cluster_id"] == cluster


def test_exact_dedup_only_when_near_is_off(tmp_path: Path) -> None:
    import dataclasses

    warehouse = Warehouse(str(tmp_path / "wh"))
    dedup = Deduplicator(warehouse, DedupConfig(near=False))
    article = make_article(4, paragraphs=8)
    edited = dataclasses.replace(article, paragraphs=article.paragraphs[:7])  # a near copy, cut short
    original = row(news_page(article, "https://a.test/4"), "https://a.test/4")
    cut = row(news_page(edited, "https://b.test/4"), "https://b.test/4")
    assert original["content_hash"] != cut["content_hash"]
    kept = commit(dedup, warehouse, [original, cut], 1)
    assert [r["cluster_id"] for r in kept] == [r["doc_id"] for r in kept]  # two clusters
    assert not warehouse.has_files(SIGNATURES)
    with_near = Deduplicator(Warehouse(str(tmp_path / "wh2")), DedupConfig())
    fresh = [row(news_page(article, "https://a.test/4"), "https://a.test/4")]
    fresh.append(row(news_page(edited, "https://b.test/4"), "https://b.test/4"))  # classify used the others
    clusters = {r["cluster_id"] for r in with_near.classify(fresh).kept}
    assert len(clusters) == 1  # the same two texts, one article when near is on
