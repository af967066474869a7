"""Incremental local sources, through real ingest flows: unchanged files are not read again, a WARC that
grew is read from where the last run left it, changed and new files are read, a vanished file stays in
`inputs`, --full reads everything, and `rejects` does not grow when nothing changed."""

from __future__ import annotations

import os
import time
from pathlib import Path

import duckdb
import pytest
from sites import make_article, news_page, warc_bytes, write_site

from flows.ingest import ingest

pytestmark = pytest.mark.flow


def records(first: int, count: int) -> list[tuple[str, str, str, bytes]]:
    pages = [
        (
            f"https://inc.test/{i}",
            "200 OK",
            "text/html",
            news_page(make_article(i), f"https://inc.test/{i}").encode(),
        )
        for i in range(first, first + count)
    ]
    return [*pages, (f"https://inc.test/missing-{first}", "404 Not Found", "text/html", b"gone")]


def query(catalog: str, sql: str) -> list[tuple]:
    with duckdb.connect(catalog, read_only=True) as con:
        return con.execute(sql).fetchall()


def test_warc_folder_is_read_incrementally(tmp_path: Path, make_config) -> None:
    crawl = tmp_path / "crawl"
    crawl.mkdir()
    (crawl / "a.warc.gz").write_bytes(warc_bytes(records(0, 5)))
    (crawl / "b.warc.gz").write_bytes(warc_bytes(records(100, 3)))
    config = make_config(
        '[warehouse]\npath = "wh"\n[[sources]]\nname = "crawl"\nkind = "warc"\npath = "crawl/*.warc.gz"\n'
        "min_words = 10\n"
    )

    first = ingest(str(config))
    stats = first.sources["crawl"]
    assert (stats.seen, stats.written, stats.rejected) == (10, 8, 2)
    catalog = first.catalog
    rejects = query(catalog, "select count(*) from rejects")

    again = ingest(str(config)).sources["crawl"]
    assert (again.seen, again.written, again.rejected, again.status) == (0, 0, 0, "completed")
    assert query(catalog, "select count(*) from rejects") == rejects

    # a crawler appends records to a.warc.gz: only they are read
    size_before = (crawl / "a.warc.gz").stat().st_size
    with open(crawl / "a.warc.gz", "ab") as handle:
        handle.write(warc_bytes(records(5, 2)))
    grown = ingest(str(config)).sources["crawl"]
    assert (grown.seen, grown.written, grown.rejected) == (3, 2, 1)
    starts = query(
        catalog, "select start from internal.inputs where path like '%a.warc.gz' order by ingested_at"
    )
    assert starts == [(0,), (size_before,)]

    # a new file: only its pages; a rewritten file: read again whole
    (crawl / "c.warc.gz").write_bytes(warc_bytes(records(200, 2)))
    time.sleep(0.01)
    (crawl / "b.warc.gz").write_bytes(warc_bytes(records(300, 4)))
    changed = ingest(str(config)).sources["crawl"]
    assert (changed.seen, changed.written) == (3 + 5, 2 + 4)

    # a vanished file stays in inputs; a full pass reads everything there is and stores nothing new
    (crawl / "c.warc.gz").unlink()
    full = ingest(str(config), full=True).sources["crawl"]
    assert (full.seen, full.written) == (9 + 5, 0)  # a: 5 + 2 pages and 2 missing; b: 4 and 1
    assert query(catalog, "select count(*) from rejects") == [(rejects[0][0] + 3,)]
    inputs = dict(query(catalog, "select regexp_extract(path, '[a-z]+\\.warc\\.gz'), records from inputs"))
    assert inputs == {"a.warc.gz": 9, "b.warc.gz": 5, "c.warc.gz": 3}


def test_files_source_reads_only_changed_files(tmp_path: Path, make_config) -> None:
    urls = write_site(tmp_path / "site", 4)
    config = make_config(
        '[warehouse]\npath = "wh"\n[[sources]]\nname = "site"\nkind = "files"\npath = "site/**/*.html"\n'
        'url_prefix = "https://"\n'
    )
    first = ingest(str(config)).sources["site"]
    assert first.seen == 4
    pages = sorted((tmp_path / "site").rglob("*.html"))
    os.utime(pages[0])  # touched, same content: not read
    edited = pages[1].read_text().replace("</p>", " An added sentence about the harbour.</p>", 1)
    pages[1].write_text(edited)
    second = ingest(str(config)).sources["site"]
    assert (second.seen, second.written) == (1, 1)  # the edited page, stored as a new version
    assert len(urls) == 4
