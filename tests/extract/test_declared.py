"""What a page declares is read first and cross-checked: generated pages whose declarations conflict, and a
warehouse written before schema version 3 read with the new columns derived."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from lxml.html import fromstring

from flows.extract.declared import parse_loose, parse_stamp, read_declared, split_names

NOW = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)


def page(head: str, body: str = "") -> str:
    return f"<html lang='en'><head>{head}</head><body>{body}<p>text</p></body></html>"


def declared(head: str, body: str = "", url: str = "https://news.example/a"):
    return read_declared(fromstring(page(head, body)), url, NOW)


@pytest.mark.unit
def test_json_ld_in_a_graph_with_authors_by_reference_and_the_minute_with_its_offset() -> None:
    meta = declared(
        '<script type="application/ld+json">{"@graph": [{"@type": "WebSite", "name": "Example News"},'
        '{"@type": ["NewsArticle"], "headline": "Rain returns", "datePublished": "2026-11-20T08:05:00+05:30",'
        '"dateModified": "2026-11-20T09:00:00+05:30", "author": [{"@id": "#p1"}, {"@id": "#p2"}],'
        '"articleSection": "Weather", "publisher": {"@type": "Organization", "name": "Example News"}},'
        '{"@type": "Person", "@id": "#p1", "name": "Ann Lee"},'
        '{"@type": "Person", "@id": "#p2", "name": "Bo Ma"}]}'
        "</script>",
        "<h1>Rain returns</h1>",
    )
    assert (meta.headline, meta.authors, meta.section, meta.sitename) == (
        "Rain returns",
        ["Ann Lee", "Bo Ma"],
        "Weather",
        "Example News",
    )
    assert meta.published is not None and meta.modified is not None
    assert meta.published.utc == datetime(2026, 11, 20, 2, 35, tzinfo=UTC)
    assert (meta.published.offset, meta.published.precision) == (330, "second")
    assert meta.published.day.isoformat() == "2026-11-20"


@pytest.mark.unit
def test_conflicting_declarations_are_cross_checked() -> None:
    meta = declared(
        '<meta property="og:site_name" content="Daily Example">'
        '<meta property="og:title" content="Rain returns to the valley | Daily Example">'
        "<title>RAIN: valley sees rain return, reservoirs fill - Daily Example</title>"
        '<meta property="article:published_time" content="2031-01-01T00:00:00Z">'  # in the future
        '<meta name="date" content="2026-11-19">'
        '<meta name="author" content="Daily Example">'  # the site, not a person
        '<meta property="article:author" content="https://facebook.com/dailyexample">',  # a URL
        "<h1>Daily Example</h1><h1>Rain returns to the valley</h1>"
        "<div class='byline'>By Ann Lee and Bo Ma</div>",
    )
    assert meta.headline == "Rain returns to the valley"  # the visible headline its declared titles confirm
    assert meta.page_title == "RAIN: valley sees rain return, reservoirs fill - Daily Example"
    assert meta.published is not None and (meta.published.day.isoformat(), meta.published.precision) == (
        "2026-11-19",
        "day",
    )
    assert meta.authors == []  # none declared believably: the byline is trafilatura's side (fields.py)


@pytest.mark.unit
def test_broken_json_ld_is_read_as_far_as_it_goes() -> None:
    meta = declared(
        '<script type="application/ld+json">{"@type": "NewsArticle", "headline": "Cut short",'
        ' "datePublished": "2026-11-20T08:00Z", "author": {"name": "Ann Lee",}, </script>'
    )
    assert meta.headline == "Cut short"
    assert meta.published is not None and meta.published.utc == datetime(2026, 11, 20, 8, 0, tzinfo=UTC)


@pytest.mark.unit
@pytest.mark.parametrize(
    ("text", "utc", "precision"),
    [
        ("2026-11-20T08:00:00Z", "2026-11-20T08:00:00+00:00", "second"),
        ("2026-11-20 08:00", "2026-11-20T08:00:00+00:00", "minute"),
        ("2026-11-20T00:00:00+01:00", "2026-11-20T00:00:00+00:00", "day"),
        ("20261120", "2026-11-20T00:00:00+00:00", "day"),
        ("Fri, 20 Nov 2026 08:00:00 GMT", "2026-11-20T08:00:00+00:00", "second"),
        ("November 19, 2026, 07:47 PM EST", "2026-11-20T00:47:00+00:00", "minute"),
        ("01:38:07 PM IST Nov 20, 2026", "2026-11-20T08:08:07+00:00", "second"),
        ("Published 11:11 PM ET Nov 19, 2026", "2026-11-19T00:00:00+00:00", "day"),  # ET: no offset known
    ],
)
def test_stated_moments(text: str, utc: str, precision: str) -> None:
    stamp = parse_stamp(text, NOW) or parse_loose(text)
    assert stamp is not None and (stamp.utc.isoformat(), stamp.precision) == (utc, precision)


@pytest.mark.unit
def test_unbelievable_moments_and_names() -> None:
    assert parse_stamp("0001-01-01T00:00:00Z", NOW) is None
    assert parse_stamp("2031-01-01", NOW) is None
    assert split_names("By Ann Lee, Futurism") == ["Ann Lee"]
    assert split_names("Ann Lee and Bo Ma") == ["Ann Lee", "Bo Ma"]
    assert split_names("Tom Gillespie News reporter") == ["Tom Gillespie"]


@pytest.mark.flow
def test_a_warehouse_of_schema_version_2_reads_with_the_new_columns_derived(tmp_path: Path) -> None:
    from flows.warehouse.store import Warehouse
    from flows.warehouse.tables import DOCUMENT_SCHEMA
    from flows.warehouse.views import build_views

    old = pa.schema(
        [f for f in DOCUMENT_SCHEMA if f.name in ("doc_id", "url", "title", "text", "fetched_at", "run_id")]
        + [pa.field("author", pa.string()), pa.field("published_at", pa.date32())],
        metadata={b"corpus.schema_version": b"2"},
    )
    rows = pa.Table.from_pylist(
        [
            {
                "doc_id": "a",
                "url": "https://x/a",
                "title": "A",
                "text": "t",
                "author": "Ann Lee; Bo Ma",
                "published_at": datetime(2025, 7, 1).date(),
                "fetched_at": NOW,
                "run_id": "r",
            },
            {
                "doc_id": "b",
                "url": "https://x/b",
                "title": "B",
                "text": "t",
                "author": None,
                "published_at": None,
                "fetched_at": NOW,
                "run_id": "r",
            },
        ],
        schema=old,
    )
    folder = tmp_path / "wh" / "documents" / "source=old" / "month=2025-07"
    folder.mkdir(parents=True)
    pq.write_table(rows, folder / "part-0.parquet")
    store = Warehouse(str(tmp_path / "wh"))
    build_views(store)
    with duckdb.connect(store.catalog, read_only=True) as con:
        got = con.execute(
            "select doc_id, authors, author, published_date, published_precision, "
            "published_at = TIMESTAMPTZ '2025-07-01 00:00:00+00' from documents order by doc_id"
        ).fetchall()
    assert got == [
        ("a", ["Ann Lee", "Bo Ma"], "Ann Lee; Bo Ma", datetime(2025, 7, 1).date(), "day", True),
        ("b", [], None, None, None, None),
    ]
