"""Property-based tests (hypothesis): random and adversarial inputs to the config loader, URL
canonicalisation and safety checks, feed and sitemap parsing, charset and body decoding, and the SQL
guard give a result or the product's one-line error, never another exception. Examples are bounded
(HYPOTHESIS_PROFILE=thorough for a longer run)."""

from __future__ import annotations

import os
from pathlib import Path

import duckdb
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from flows.analyst import query
from flows.config import parse_config
from flows.errors import CorpusError, QueryError, SourceError
from flows.extract.page import decode_html
from flows.extract.urls import canonical_url, site_of
from flows.fetch.decoding import DecodeError, decode_body
from flows.fetch.safety import is_public
from flows.sources.listing import parse_feed, parse_sitemap

pytestmark = pytest.mark.unit

settings.register_profile(
    "default", max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.register_profile("thorough", max_examples=3000, deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))


def one_line(exc: BaseException) -> None:
    assert str(exc) and "\n" not in str(exc).strip(), repr(exc)


# ---- config

KEYS = [
    *("name", "kind", "path", "url", "urls", "enabled", "priority", "min_words", "languages"),
    *("schedule", "interval", "timezone", "delay", "max_bytes", "articles_only", "allow_private"),
    *("url_prefix", "x"),
]
VALUES = st.one_of(
    st.text(max_size=30).map(lambda s: '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'),
    st.integers(-(2**40), 2**40).map(str),
    st.floats(allow_nan=False, allow_infinity=False).map(repr),
    st.sampled_from(["true", "false", "[]", '["en", "fr"]', "{}", '"files"', '"feed"', '"warc"', '"urls"']),
)


@given(
    st.lists(st.tuples(st.sampled_from(KEYS), VALUES), max_size=8),
    st.sampled_from(["", "[warehouse]\n", "[dedup]\n", "[extract]\n", "[defaults]\n", "[runner]\n"]),
)
def test_the_config_loader_gives_a_config_or_one_line(pairs: list[tuple[str, str]], table: str) -> None:
    lines = list(dict(pairs).items())
    body = table + "".join(f"{k} = {v}\n" for k, v in lines) if table else ""
    body += "[[sources]]\n" + "".join(f"{k} = {v}\n" for k, v in lines)
    try:
        parse_config(body, Path("/tmp/property.toml"))
    except CorpusError as exc:
        one_line(exc)


@given(st.text(max_size=200))
def test_any_text_as_a_config_gives_a_config_or_one_line(text: str) -> None:
    try:
        parse_config(text, Path("/tmp/property.toml"))
    except CorpusError as exc:
        one_line(exc)


# ---- URLs

URLS = st.one_of(
    st.text(max_size=80),
    st.builds(
        lambda scheme, host, port, path, query: f"{scheme}://{host}{port}/{path}?{query}",
        st.sampled_from(["http", "https", "HTTP", "ftp", "javascript"]),
        st.one_of(
            st.text(min_size=1, max_size=20),
            st.sampled_from(["[::1]", "127.0.0.1", "xn--n3h.com", "EXAMPLE.com", "a..b", "[zz]", "例え.jp"]),
        ),
        st.sampled_from(["", ":80", ":443", ":0", ":99999", ":x"]),
        st.text(max_size=30),
        st.text(max_size=30),
    ),
)


@given(URLS)
@example("A://[")  # found by this test: site_of raised on a bad IPv6 host
def test_canonical_urls_are_stable(url: str) -> None:
    once = canonical_url(url)
    assert isinstance(once, str)
    assert canonical_url(once) == once  # a canonical URL is its own canonical form
    site_of(once)


@given(st.ip_addresses())
def test_every_address_is_judged(address: object) -> None:
    assert is_public(str(address)) in (True, False)


# ---- listings, bodies and charsets

MARKUP = st.one_of(
    st.binary(max_size=300),
    st.lists(
        st.sampled_from(
            [
                b"<rss>",
                b"<channel>",
                b"<item>",
                b"<link>",
                b"http://a.test/x",
                b"</link>",
                b"</item>",
                b"<urlset>",
                b"<url>",
                b"<loc>",
                b"</loc>",
                b"</url>",
                b"<sitemapindex>",
                b"<feed>",
                b"<entry>",
                b'<link href="/y"/>',
                b"<lastmod>2025-13-45</lastmod>",
                b"&amp;",
                b"&bogus;",
                b"<![CDATA[",
                b"]]>",
                b"\x1f\x8b",
                b"{",
                b'"items": [',
                b"]",
                b"}",
                b"\xff\xfe",
                b"\x00",
            ]
        ),
        max_size=25,
    ).map(b"".join),
)


@given(MARKUP)
@example(b"")  # found by this test: feedparser's result had no version
@example(b"<\x00")  # a multi-line lxml message
@example(b"<item<link</item<channel</link>")  # feedparser's loose parser crashed
@settings(suppress_health_check=[HealthCheck.too_slow])
def test_feeds_and_sitemaps_parse_or_say_why(body: bytes) -> None:
    for parse in (parse_feed, parse_sitemap):
        try:
            parse(body, "https://site.test/listing.xml")
        except SourceError as exc:
            one_line(exc)


@given(
    st.binary(max_size=300),
    st.one_of(st.none(), st.sampled_from(["gzip", "deflate", "br", "zstd", "gzip, br", "x-bogus", "GZIP"])),
    st.one_of(st.none(), st.sampled_from(["chunked", "Chunked", "gzip, chunked"])),
)
def test_bodies_decode_or_say_why(body: bytes, coding: str | None, transfer: str | None) -> None:
    """Decoded, kept as it is, or DecodeError (the bad_encoding / too_large rejects), one line."""
    try:
        decoded, undone = decode_body(body, coding, transfer, 10_000)
    except DecodeError as exc:
        one_line(exc)
        return
    assert isinstance(decoded, bytes) and isinstance(undone, str)
    assert len(decoded) <= max(10_000, len(body))


@given(
    st.binary(max_size=200),
    st.one_of(st.none(), st.sampled_from(["utf-8", "latin-1", "shift_jis", "x-unknown", "utf-7", "big5"])),
    st.sampled_from([b"", b'<meta charset="gbk">', b"<meta charset=koi8-r>", b'<meta charset="nope">']),
)
def test_charsets_decode_or_leave_the_bytes(body: bytes, declared: str | None, meta: bytes) -> None:
    assert isinstance(decode_html(meta + body, declared), bytes | str)


# ---- the SQL guard

STATEMENT_PARTS = st.lists(
    st.sampled_from(
        [
            "SELECT",
            "1",
            "FROM",
            "documents",
            "EXPLAIN",
            "ANALYZE",
            "(",
            ")",
            "COPY",
            "TO",
            "'/tmp/x'",
            "ATTACH",
            "SET",
            "threads",
            "=",
            ";",
            "--",
            "/*",
            "*/",
            "WITH",
            "t",
            "AS",
            "PRAGMA",
            "INSTALL",
            "LOAD",
            "httpfs",
            "CALL",
            "VALUES",
            "read_csv('/etc/passwd')",
            "FORMAT",
            "json",
            ",",
            "'",
            '"',
        ]
    ),
    max_size=14,
).map(" ".join)


@pytest.fixture(scope="module")
def locked() -> duckdb.DuckDBPyConnection:
    from flows.warehouse.connection import lock_down

    con = duckdb.connect()
    con.execute("CREATE VIEW documents AS SELECT 1 AS doc_id")
    lock_down(con, [], [])
    return con


@given(st.one_of(STATEMENT_PARTS, st.text(max_size=60)))
@settings(suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_the_sql_guard_answers_or_refuses_in_one_line(locked: duckdb.DuckDBPyConnection, sql: str) -> None:
    try:
        query.run(locked, sql)
    except QueryError as exc:
        one_line(exc)
    assert not Path("/tmp/x").exists() or Path("/tmp/x").stat().st_mtime < _STARTED


_STARTED = __import__("time").time()
