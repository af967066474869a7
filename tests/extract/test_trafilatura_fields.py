"""extract_fields gives bare_extraction's text on every page; trafilatura's metadata heuristics fill what
a page does not declare (what it declares: tests/extract/test_declared.py)."""

from __future__ import annotations

from pathlib import Path

import pytest
import trafilatura
from sites import make_article, news_page, syndicated_page

from flows.extract.fields import extract_fields
from flows.extract.page import decode_html

pytestmark = pytest.mark.unit

SAMPLE = Path(__file__).resolve().parents[2] / "seeds" / "sample"

ODD_PAGES = {
    "no-text": "<html><body><nav><a href='/'>Home</a></nav></body></html>",
    "not-html": "just a line of text, no markup at all",
    "fragment": "<p>" + "A paragraph outside any document. " * 10 + "</p>",
    "json-ld": (
        '<html><head><script type="application/ld+json">{"@context": "https://schema.org",'
        ' "@type": "NewsArticle", "headline": "From JSON",'
        ' "author": {"@type": "Person", "name": "Jane Roe"}, "datePublished": "2025-03-04",'
        ' "keywords": "trade, ports"}</script></head><body><article>'
        + "<p>Ports reopened after the agreement on tariffs was signed last week by both sides.</p>" * 8
        + "</article></body></html>"
    ),
    "broken-json-ld": (
        '<html><head><script type="application/ld+json">{"@type": "NewsArticle", "headline": </script>'
        '<meta name="author" content="Ann Example"><link rel="canonical" href="/2025/rel.html">'
        '<meta property="og:url" content="https://other.test/x"></head><body><article>'
        + "<p>Rain returned to the valley and the reservoirs began to fill again this spring.</p>"
        * 8
        + '</article><div class="tags"><a href="/tag/rain/">Rain</a></div>'
        '<div class="entry-meta"><a href="/category/weather/">Weather</a></div>'
        '<footer><a rel="license" href="https://creativecommons.org/licenses/by/4.0/">CC</a></footer>'
        "</body></html>"
    ),
}


def _pages() -> list[tuple[str, str, bytes | str]]:
    pages: list[tuple[str, str, bytes | str]] = []
    for path in sorted(SAMPLE.rglob("*.htm*")):
        url = "https://" + str(path.relative_to(SAMPLE))
        pages.append((path.name, url, path.read_bytes()))
    for seed in range(3):
        article = make_article(seed)
        url = f"https://news.test/2025/story-{seed}.html"
        pages.append((f"news-{seed}", url, news_page(article, url)))
        pages.append(
            (f"wire-{seed}", f"https://wire.test/{seed}", syndicated_page(article, "https://wire.test/", url))
        )
    for name, html in ODD_PAGES.items():
        pages.append((name, f"https://odd.test/{name}", html))
    return pages


@pytest.mark.parametrize(("name", "url", "html"), _pages(), ids=[p[0] for p in _pages()])
def test_same_text_as_bare_extraction(name: str, url: str, html: bytes | str) -> None:
    data = decode_html(html, None) if isinstance(html, bytes) else html
    expected = trafilatura.bare_extraction(
        data, url=url, include_comments=False, favor_precision=True, with_metadata=True
    )
    got = extract_fields(data, url, favor_precision=True)
    if expected is None:
        assert got is None
        return
    assert got is not None
    assert got.text == expected.text
    assert got.url == expected.url  # the URL the page names for itself (or the one it was read under)


def test_without_a_url_the_page_names_its_own() -> None:
    html = news_page(make_article(7), "https://news.test/2025/story-7.html")
    expected = trafilatura.bare_extraction(
        html, include_comments=False, favor_precision=True, with_metadata=True
    )
    got = extract_fields(html, None, favor_precision=True)
    assert got.url == expected.url == "https://news.test/2025/story-7.html"
    assert got.text == expected.text and got.metadata.published.day.isoformat() == expected.date


def test_what_a_page_does_not_declare_is_left_to_trafilatura() -> None:
    """JSON-LD read where it parses; where it is broken, the meta tags; tags from links (trafilatura's
    heuristic) where the page declares none."""
    pages = {name: html for name, _, html in _pages()}
    json_ld = extract_fields(pages["json-ld"], "https://odd.test/j", favor_precision=True).metadata
    assert (json_ld.headline, json_ld.authors) == ("From JSON", ["Jane Roe"])
    assert json_ld.published is not None and json_ld.published.day.isoformat() == "2025-03-04"
    assert json_ld.tags == ["trade", "ports"]
    broken = extract_fields(pages["broken-json-ld"], "https://odd.test/b", favor_precision=True).metadata
    assert broken.authors == ["Ann Example"] and broken.tags == ["Rain"]
    undated = extract_fields(pages["news-0"], "https://news.test/2025/story-0.html", favor_precision=True)
    expected = trafilatura.bare_extraction(
        pages["news-0"], url="https://news.test/2025/story-0.html", favor_precision=True, with_metadata=True
    )
    assert undated.metadata.published is not None
    assert undated.metadata.published.day.isoformat() == expected.date
