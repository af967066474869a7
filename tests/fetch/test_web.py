"""Web sources against a real HTTP server on 127.0.0.1: listings, politeness, faults, incremental
re-fetching, the raw archive and re-extraction, through real Prefect flow runs."""

from __future__ import annotations

import asyncio
import gzip
import itertools
import json
import shutil
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb
import pytest
from sites import make_article
from web_site import SiteServer

from flows.config import UrlsSource
from flows.errors import RunFailed, SourceError
from flows.fetch.fetcher import Failure, Fetcher, Response
from flows.ingest import ingest, reextract
from flows.records import RunSummary
from flows.sources.listing import Entry, parse_feed, parse_sitemap, select


def query(catalog: str, sql: str) -> list[tuple]:
    with duckdb.connect(catalog, read_only=True) as con:
        return con.execute(sql).fetchall()


def web_source(**options) -> UrlsSource:
    return UrlsSource(name="t", kind="urls", urls=["http://127.0.0.1/"], allow_private=True, **options)


async def fetch_all(source: UrlsSource, urls: list[str]) -> list[Response | Failure]:
    async with Fetcher(source) as fetcher:
        return await asyncio.gather(*(fetcher.get(u) for u in urls))


# ---- listings (no network)


@pytest.mark.unit
def test_feeds_rss_atom_json_and_a_malformed_one() -> None:
    rss = b"""<?xml version="1.0"?><rss version="2.0"><channel><title>x</title>
      <item><link>/a</link><pubDate>Fri, 20 Nov 2026 08:00:00 GMT</pubDate></item>
      <item><link>https://ex.org/b</link></item></channel></rss>"""
    assert parse_feed(rss, "https://ex.org/feed") == [
        Entry("https://ex.org/a", datetime(2026, 11, 20, 8, tzinfo=UTC)),
        Entry("https://ex.org/b", None),
    ]
    atom = b"""<?xml version="1.0"?><feed xmlns="http://www.w3.org/2005/Atom"><title>x</title>
      <entry><title>a</title><link rel="alternate" href="https://ex.org/c"/><updated>2026-11-01T00:00:00Z</updated>
      </entry></feed>"""
    assert parse_feed(atom, "https://ex.org/atom") == [
        Entry("https://ex.org/c", datetime(2026, 11, 1, tzinfo=UTC))
    ]
    jsonfeed = json.dumps(
        {
            "version": "https://jsonfeed.org/version/1.1",
            "items": [{"url": "/d", "date_published": "2026-10-01T00:00:00Z"}],
        }
    ).encode()
    assert parse_feed(jsonfeed, "https://ex.org/f.json") == [
        Entry("https://ex.org/d", datetime(2026, 10, 1, tzinfo=UTC))
    ]
    with pytest.raises(SourceError, match=r"feed https://ex.org/bad: not a valid feed"):
        parse_feed(b"<html><body>not a feed <<<", "https://ex.org/bad")
    with pytest.raises(SourceError, match="not a valid JSON feed"):
        parse_feed(b"{broken", "https://ex.org/bad.json")


@pytest.mark.unit
def test_sitemaps_index_news_gzip_and_bad_xml() -> None:
    index = b"""<sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">
      <sitemap><loc>https://ex.org/s1.xml</loc></sitemap></sitemapindex>"""
    assert parse_sitemap(index, "https://ex.org/s.xml") == ("sitemapindex", [Entry("https://ex.org/s1.xml")])
    news = b"""<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9"
      xmlns:news="http://www.google.com/schemas/sitemap-news/0.9"><url><loc>https://ex.org/n</loc>
      <lastmod>2020-01-01</lastmod><news:news><news:publication_date>2026-11-20T08:00:00+00:00</news:publication_date>
      </news:news></url></urlset>"""
    kind, entries = parse_sitemap(gzip.compress(news), "https://ex.org/n.xml.gz")
    assert (kind, entries) == ("urlset", [Entry("https://ex.org/n", datetime(2026, 11, 20, 8, tzinfo=UTC))])
    with pytest.raises(SourceError, match=r"sitemap https://ex.org/x.xml: bad XML"):
        parse_sitemap(b"<urlset><url>", "https://ex.org/x.xml")
    with pytest.raises(SourceError, match="is not <urlset> or <sitemapindex>"):
        parse_sitemap(b"<html/>", "https://ex.org/x.xml")


@pytest.mark.unit
def test_selection_include_exclude_since_and_max_items() -> None:
    now = datetime.now(UTC)
    entries = [
        Entry("https://ex.org/news/1", now - timedelta(days=1)),
        Entry("https://ex.org/news/2", now - timedelta(days=30)),
        Entry("https://ex.org/news/3", now - timedelta(hours=1)),
        Entry("https://ex.org/tag/x", now),
        Entry("https://ex.org/news/4", None),
        Entry("https://ex.org/news/1", now),
        Entry("https://ex.org/news/5", now - timedelta(days=2)),
    ]
    source = web_source(include=["/news/"], exclude=["/4$"], since="7d", max_items=2)
    assert [e.url for e in select(entries, source)] == ["https://ex.org/news/3", "https://ex.org/news/1"]


# ---- the fetcher against the test server


@pytest.mark.unit
def test_fetch_faults_each_give_their_reason() -> None:
    with SiteServer() as site:
        site.slow_seconds = 2.5
        source = web_source(delay=0.0, timeout=1.0, retries=1, max_bytes=10_000_000)
        paths = [
            "/flaky.html",
            "/busy.html",
            "/slow.html",
            "/huge.html",
            "/loop-a.html",
            "/missing.html",
            "/image.png",
            "/moved.html",
            "/private/secret.html",
        ]
        started = time.monotonic()
        results = asyncio.run(fetch_all(source, [site.base + p for p in paths]))
        elapsed = time.monotonic() - started
    outcome = dict(zip(paths, results, strict=True))
    assert isinstance(outcome["/flaky.html"], Response) and site.hits["/flaky.html"] == 2  # 500, then retried
    busy = site.requests_for("/busy.html")
    assert isinstance(outcome["/busy.html"], Response) and busy[1].at - busy[0].at >= 0.95  # Retry-After: 1
    assert outcome["/slow.html"].reason == "timeout"
    assert outcome["/huge.html"].reason == "too_large"
    assert outcome["/loop-a.html"].reason == "redirect_loop"
    assert outcome["/missing.html"].reason == "http_404"
    assert outcome["/image.png"].reason == "not_html"
    moved = outcome["/moved.html"]
    assert isinstance(moved, Response) and moved.url == site.article_url(0)
    assert moved.redirects == [site.base + "/moved.html"]
    assert outcome["/private/secret.html"].reason == "robots"
    assert site.hits["/robots.txt"] == 1  # once per host per run
    assert elapsed < 15


@pytest.mark.unit
def test_private_addresses_are_refused_unless_allowed() -> None:
    source = UrlsSource(name="t", kind="urls", urls=["http://127.0.0.1/"], retries=0)
    with SiteServer() as site:
        [result] = asyncio.run(fetch_all(source, [site.article_url(0)]))
    assert isinstance(result, Failure) and result.reason == "blocked_address"
    assert "allow_private" in result.detail
    assert not site.requests  # nothing was sent
    [scheme] = asyncio.run(fetch_all(web_source(), ["ftp://127.0.0.1/x"]))
    assert scheme.reason == "bad_url"


@pytest.mark.unit
def test_pacing_per_host_and_hosts_in_parallel() -> None:
    delay = 0.3
    with SiteServer() as site:
        port = site.base.rsplit(":", 1)[1]
        urls = [site.article_url(i) for i in range(4)]
        other = [f"http://localhost:{port}/news/a{i}.html" for i in range(4)]
        source = web_source(delay=delay, concurrency=8, host_concurrency=2)
        started = time.monotonic()
        results = asyncio.run(fetch_all(source, urls + other))
        elapsed = time.monotonic() - started
    assert all(isinstance(r, Response) for r in results)
    for host in ("127.0.0.1", "localhost"):
        times = sorted(r.at for r in site.requests if r.host.startswith(host) and r.path != "/robots.txt")
        assert len(times) == 4
        gaps = [b - a for a, b in itertools.pairwise(times)]
        # the server never sees two requests much closer than delay (unpaced, they come at once); its clock
        # reads when a request is handled, which a loaded machine delays by some tens of milliseconds
        assert min(gaps) >= delay * 0.8, gaps
    # robots.txt + 4 pages per host, the two hosts side by side: ~4 delays, not ~9
    assert elapsed < 7 * delay


# ---- end to end: flows, warehouse, views


@pytest.fixture
def site():
    with SiteServer() as served:
        yield served


def web_config(make_config, site, extra: str = "") -> Path:
    common = "allow_private = true\ndelay = 0.0\ntimeout = 1.0\nretries = 1\n"
    return make_config(
        '[warehouse]\npath = "wh"\n'
        f'[[sources]]\nname = "feed"\nkind = "feed"\nurl = "{site.base}/feed.xml"\n{common}'
        f'[[sources]]\nname = "maps"\nkind = "sitemap"\nurl = "{site.base}/sitemap.xml"\n{common}'
        f'[[sources]]\nname = "faults"\nkind = "urls"\nfile = "urls.txt"\n{common}' + extra
    )


FAULTS = [
    "/flaky.html",
    "/busy.html",
    "/slow.html",
    "/huge.html",
    "/binary.html",
    "/loop-a.html",
    "/missing.html",
    "/image.png",
]


@pytest.mark.flow
def test_web_sources_land_and_rerun_is_conditional(site, make_config, tmp_path: Path) -> None:
    site.slow_seconds = 2.5
    (tmp_path / "urls.txt").write_text("# watchlist\n" + "\n".join(site.base + p for p in FAULTS) + "\n")
    config = web_config(make_config, site)
    summary = ingest(str(config))
    catalog = summary.catalog
    feed, maps, faults = (summary.sources[n] for n in ("feed", "maps", "faults"))
    assert (feed.status, maps.status, faults.status) == ("completed", "completed", "completed")
    assert (feed.seen, feed.written) == (4, 4)
    # sitemap: a0-a2 from the news sitemap, a3-a5 and a robots-disallowed page from the gzipped urlset,
    # a broken child sitemap; a0-a3 are the feed's pages, already stored
    assert (maps.written, maps.duplicates) == (2, 4)
    rejects = dict(query(catalog, "select url, reason from rejects"))
    assert rejects[site.base + "/private/secret.html"] == "robots"
    assert rejects[site.base + "/sitemap-broken.xml"] == "bad_sitemap"
    expected = {
        "/slow.html": "timeout",
        "/huge.html": "too_large",
        "/binary.html": "not_html",
        "/loop-a.html": "redirect_loop",
        "/missing.html": "http_404",
        "/image.png": "not_html",
    }
    assert {
        u.removeprefix(site.base): r for u, r in rejects.items() if u.removeprefix(site.base) in expected
    } == expected
    landed = {u for (u,) in query(catalog, "select url from documents where source = 'faults'")}
    assert landed == {site.base + "/flaky.html", site.base + "/busy.html"}
    assert query(catalog, "select count(*) from articles") == [(8,)]  # a0-a5, flaky, busy
    # documents point into the raw archive, relative to the warehouse (a copied warehouse names its own)
    [(warc_file, offset)] = query(
        catalog,
        f"select warc_file, warc_offset from documents where url = '{site.article_url(0)}' and source='feed'",
    )
    assert warc_file.startswith("raw/source=feed/") and warc_file.endswith(".warc.gz") and offset >= 0
    assert (tmp_path / "wh" / warc_file).is_file()
    state = query(
        catalog,
        "select last_outcome, times_seen, etag from fetch_state where url = "
        f"'{site.article_url(1)}' and source = 'feed'",
    )
    assert state == [("new", 1, '"a1-v1"')]

    # second run: conditional requests, nothing new; the robots, fault and listing rejects not recorded again
    before = len(site.requests)
    reject_rows = query(catalog, "select count(*) from rejects")
    again = ingest(str(config))
    assert query(catalog, "select count(*) from rejects") == reject_rows
    assert again.sources["maps"].rejected > 0  # still turned down, and counted in the run
    article_requests = [r for r in site.requests[before:] if r.path.startswith("/news/")]
    assert article_requests and all(r.headers.get("If-None-Match") for r in article_requests)
    assert sum(s.written for s in again.sources.values()) == 0
    assert again.sources["feed"].unchanged == 4
    assert query(catalog, "select count(*) from articles") == [(8,)]

    # a page changes: a new version, articles shows it
    site.set_article(1, seed=777, version=2)
    third = ingest(str(config), sources=["feed"])
    assert third.sources["feed"].written == 1 and third.sources["feed"].unchanged == 3
    versions = query(
        catalog, f"select count(*) from documents where url = '{site.article_url(1)}' and source = 'feed'"
    )
    assert versions == [(2,)]
    [(title,)] = query(catalog, f"select title from articles where canonical_url = '{site.article_url(1)}'")
    assert title == make_article(777).title
    assert query(
        catalog,
        f"select times_seen, times_changed from fetch_state where url = '{site.article_url(1)}'"
        " and source = 'feed'",
    ) == [(3, 1)]


def _ingested_feed(make_config) -> tuple[Path, RunSummary]:
    """A feed source's config, ingested once from a site that is gone afterwards."""
    with SiteServer() as site:
        config = make_config(
            '[warehouse]\npath = "wh"\n'
            f'[[sources]]\nname = "feed"\nkind = "feed"\nurl = "{site.base}/feed.xml"\nallow_private = true\n'
            "delay = 0.0\n"
        )
        return config, ingest(str(config))


@pytest.mark.flow
def test_reextract_rebuilds_documents_without_the_network(make_config, tmp_path: Path) -> None:
    config, first = _ingested_feed(make_config)
    before = query(first.catalog, "select url, text from articles order by url")
    shutil.rmtree(tmp_path / "wh" / "documents")
    summary = reextract(str(config))  # the server is gone
    assert summary.sources["feed"].written == 4
    assert query(summary.catalog, "select url, text from articles order by url") == before


@pytest.mark.flow
def test_malformed_feed_fails_its_source_only(site, make_config) -> None:
    config = make_config(
        '[warehouse]\npath = "wh"\n'
        f'[[sources]]\nname = "bad"\nkind = "feed"\nurl = "{site.base}/bad-feed.xml"\nallow_private = true\n'
        f'[[sources]]\nname = "good"\nkind = "urls"\nurls = ["{site.article_url(0)}"]\nallow_private = true\n'
    )
    with pytest.raises(RunFailed, match="1 of 2 sources failed: bad: feed") as failed:
        ingest(str(config))
    summary = failed.value.summary
    bad, good = summary.sources["bad"], summary.sources["good"]
    assert bad.status == "failed" and f"feed {site.base}/bad-feed.xml: not a valid feed" in bad.error
    assert good.status == "completed" and good.written == 1


@pytest.mark.unit
def test_an_unreachable_host_is_a_connect_error_not_a_robots_reject() -> None:
    """The robots.txt fetch is the first to meet a host that cannot be reached: the page's reject names
    what happened to the host, as it would without robots checks."""
    import socket

    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    [result] = asyncio.run(fetch_all(web_source(retries=0), [f"http://127.0.0.1:{port}/a.html"]))
    assert isinstance(result, Failure) and result.reason == "connect_error", result
    assert "robots.txt unreachable" in result.detail


@pytest.mark.flow
def test_reextract_writes_what_pages_say_now_into_documents_already_stored(
    make_config, tmp_path: Path
) -> None:
    """Documents stored by an older extraction (here: their authors and publication time taken out of the
    files, as schema version 2 stored them) get the fields read from the raw archive, in place: same rows,
    same ids, no new versions, signatures still pointing at the files that hold their texts."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from flows.warehouse.store import Warehouse
    from flows.warehouse.tables import DOCUMENTS, SIGNATURES

    config, first = _ingested_feed(make_config)
    wanted = query(first.catalog, "select doc_id, authors, published_at from documents order by doc_id")
    assert wanted and any(authors for _, authors, _ in wanted)
    store = Warehouse(str(tmp_path / "wh"))
    for path in store.files(DOCUMENTS):  # as an older version stored them
        table = pq.read_table(path)
        rows = table.num_rows
        table = table.set_column(
            table.schema.get_field_index("authors"), "authors", pa.array([[]] * rows, pa.list_(pa.string()))
        )
        table = table.set_column(
            table.schema.get_field_index("published_utc"),
            "published_utc",
            pa.nulls(rows, table.schema.field("published_utc").type),
        )
        pq.write_table(table, path)
    stale = query(first.catalog, "select count(*) from documents where authors = []")
    assert stale == [(len(wanted),)]

    summary = reextract(str(config))  # the server is gone
    assert summary.sources["feed"].written == 0  # no new versions: the same texts
    assert (
        query(summary.catalog, "select doc_id, authors, published_at from documents order by doc_id")
        == wanted
    )
    for path in store.files(SIGNATURES):
        for doc_id, doc_file in zip(
            *pq.read_table(path, columns=["doc_id", "doc_file"]).to_pydict().values(), strict=True
        ):
            assert store.read_text(doc_file, doc_id)
