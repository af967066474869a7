"""Sources: files and WARC/ARC archives yield pages, and every unreadable item becomes a reject."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest
from sites import gzip_bytes, make_article, news_page, warc_bytes

from flows.config import load_config
from flows.errors import SourceError
from flows.records import Extracted, Page, Skipped
from flows.sources import UnitContext, discover, kind

pytestmark = pytest.mark.unit

LOCAL = UnitContext(run_id="test", warehouse=None)  # type: ignore[arg-type]  # local kinds write nothing


def read_pages(kind_name: str, unit):
    """Every page of a unit, read in this process (extraction workers read the items themselves)."""
    for item in kind(kind_name).prepare(unit, LOCAL).items:
        yield from (entry for entry in item.pages() if not isinstance(entry, Skipped))


def config_for(make_config, body: str):
    return load_config(make_config(body))


def split(items) -> tuple[list[Page], list[dict]]:
    items = list(items)
    return [i for i in items if isinstance(i, Page)], [i.reject for i in items if isinstance(i, Extracted)]


def test_files_source_globs_maps_urls_and_reads_gzip(tmp_path: Path, make_config) -> None:
    site = tmp_path / "site" / "news.test" / "2025"
    site.mkdir(parents=True)
    (site / "a.html").write_text(news_page(make_article(1), "https://news.test/2025/a.html"))
    (site / "b.html.gz").write_bytes(gzip_bytes(news_page(make_article(2), "x").encode()))
    (site / "notes.txt").write_text("not a page")
    (site / "broken.html.gz").write_bytes(b"\x1f\x8b\x08garbage")
    (site / "huge.html").write_bytes(b"<html>" + b"x" * 30000 + b"</html>")
    config = config_for(
        make_config,
        "[extract]\nmax_bytes = 20000\n[runner]\nbatch_size = 2\n"
        '[[sources]]\nname = "s"\nkind = "files"\npath = "site/**/*.html*"\nurl_prefix = "https://"\n',
    )
    units = discover(config.sources[0], config)
    assert [len(u.paths) for u in units] == [2, 2]  # notes.txt is not a page
    pages, rejects = split(p for u in units for p in read_pages("files", u))
    assert sorted(p.url for p in pages) == ["https://news.test/2025/a.html", "https://news.test/2025/b.html"]
    assert all(p.html.startswith(b"<!DOCTYPE html>") for p in pages)
    assert sorted((r["url"].rsplit("/", 1)[1], r["reason"]) for r in rejects) == [
        ("broken.html", "unreadable"),
        ("huge.html", "too_large"),
    ]


def test_files_without_prefix_get_file_urls(tmp_path: Path, make_config) -> None:
    (tmp_path / "a.htm").write_text("<html><body><p>x</p></body></html>")
    config = config_for(make_config, '[[sources]]\nname = "s"\nkind = "files"\npath = "*.htm"\n')
    pages, _ = split(read_pages("files", discover(config.sources[0], config)[0]))
    assert pages[0].url == (tmp_path / "a.htm").as_uri()


def test_glob_matching_nothing_is_a_source_error(make_config) -> None:
    config = config_for(make_config, '[[sources]]\nname = "s"\nkind = "files"\npath = "nowhere/*.html"\n')
    with pytest.raises(SourceError, match=r"source 's': no \.html"):
        discover(config.sources[0], config)


@pytest.mark.parametrize("compress", [True, False])
def test_warc_records_become_pages_or_rejects(tmp_path: Path, make_config, compress: bool) -> None:
    html = news_page(make_article(5), "https://news.test/5").encode()
    data = warc_bytes(
        [
            ("https://news.test/5", "200 OK", "text/html; charset=utf-8", html),
            ("https://news.test/logo.png", "200 OK", "image/png", b"\x89PNG" + bytes(300)),
            ("https://news.test/gone", "404 Not Found", "text/html", b"<html>gone</html>"),
        ],
        compress=compress,
    )
    name = "crawl.warc.gz" if compress else "crawl.warc"
    (tmp_path / name).write_bytes(data)
    config = config_for(make_config, f'[[sources]]\nname = "w"\nkind = "warc"\npath = "{name}"\n')
    pages, rejects = split(read_pages("warc", discover(config.sources[0], config)[0]))
    assert [p.url for p in pages] == ["https://news.test/5"]
    assert pages[0].html == html
    assert pages[0].fetched_at.isoformat() == "2025-07-12T06:30:00+00:00"
    assert pages[0].origin.startswith(str(tmp_path / name) + "#")
    assert [(r["url"], r["reason"]) for r in rejects] == [
        ("https://news.test/logo.png", "not_html"),
        ("https://news.test/gone", "http_404"),
    ]


def test_truncated_warc_keeps_what_was_read_then_fails(tmp_path: Path, make_config) -> None:
    records = [
        (
            f"https://news.test/{i}",
            "200 OK",
            "text/html",
            news_page(make_article(i), f"https://news.test/{i}").encode(),
        )
        for i in range(3)
    ]
    data = warc_bytes(records)
    (tmp_path / "cut.warc.gz").write_bytes(data[: len(data) - 2000])
    config = config_for(make_config, '[[sources]]\nname = "w"\nkind = "warc"\npath = "cut.warc.gz"\n')
    seen = []
    with pytest.raises(SourceError, match=r"cut\.warc\.gz: truncated"):
        for item in read_pages("warc", discover(config.sources[0], config)[0]):
            seen.append(item.url if isinstance(item, Page) else (item.reject["url"], item.reject["reason"]))
    assert seen == ["https://news.test/0", ("https://news.test/1", "unreadable")]


def test_arc_files_are_read(tmp_path: Path, make_config) -> None:
    html = news_page(make_article(8), "http://news.test/8").encode()
    head = b"1 0 Test\nURL IP-address Archive-date Content-type Archive-length\n"
    http = b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: %d\r\n\r\n" % len(html) + html
    arc = (
        b"filedesc://t.arc 0.0.0.0 20250712063000 text/plain %d\n" % len(head)
        + head
        + b"\n"
        + b"http://news.test/8 127.0.0.1 20250712063000 text/html %d\n" % len(http)
        + http
        + b"\n"
    )
    (tmp_path / "old.arc.gz").write_bytes(gzip_bytes(arc))
    config = config_for(make_config, '[[sources]]\nname = "a"\nkind = "warc"\npath = "*.arc.gz"\n')
    pages, rejects = split(read_pages("warc", discover(config.sources[0], config)[0]))
    assert [p.url for p in pages] == ["http://news.test/8"] and not rejects
    assert pages[0].html == html


def test_warc_byte_ranges_are_large_first_and_small_at_the_end() -> None:
    from flows.sources.warc import MAX_SLICE_BYTES, SLICE_BYTES, slice_ranges

    size = 300 * 2**20
    ranges = slice_ranges(size, workers=2)
    assert ranges[0] == (0, MAX_SLICE_BYTES)
    assert all(a[1] == b[0] for a, b in itertools.pairwise(ranges)) and ranges[-1][1] == size
    lengths = [end - start for start, end in ranges]
    assert all(a >= b for a, b in itertools.pairwise(lengths))  # never growing
    assert lengths[-8:-1] == [SLICE_BYTES] * 7  # the last ranges: a page or two each
    assert slice_ranges(0) == [(0, 0)] and slice_ranges(5) == [(0, 5)]


@pytest.mark.parametrize("compress", [True, False])
def test_warc_split_into_byte_ranges_reads_every_record_once(
    tmp_path: Path, make_config, monkeypatch, compress: bool
) -> None:
    import flows.sources.warc as warc

    monkeypatch.setattr(warc, "SLICE_BYTES", 1500)  # several ranges per record: boundaries found by search
    records = [
        (
            f"https://news.test/{i}",
            "200 OK",
            "text/html",
            news_page(make_article(i), f"https://news.test/{i}").encode(),
        )
        for i in range(12)
    ]
    (tmp_path / "c.warc").write_bytes(warc_bytes(records, compress=compress))
    config = config_for(make_config, '[[sources]]\nname = "w"\nkind = "warc"\npath = "c.warc"\n')
    unit = discover(config.sources[0], config)[0]
    assert len(warc.prepare(unit, LOCAL).items) > 12
    pages, rejects = split(read_pages("warc", unit))
    assert [p.url for p in pages] == [r[0] for r in records] and not rejects
