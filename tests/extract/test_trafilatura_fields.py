"""extract_fields gives what bare_extraction(with_metadata=True) gives, field for field, at less cost."""

from __future__ import annotations

import hashlib
import inspect
from pathlib import Path

import pytest
import trafilatura
import trafilatura.metadata
from sites import make_article, news_page, syndicated_page

from flows.extract.fields import extract_fields
from flows.extract.page import decode_html

pytestmark = pytest.mark.unit

SAMPLE = Path(__file__).resolve().parents[2] / "seeds" / "sample"
# Every field bare_extraction fills except categories and licence, which no column stores.
FIELDS = [
    *("title", "author", "url", "hostname", "description", "sitename", "date", "tags"),
    *("fingerprint", "id", "image", "pagetype", "text", "raw_text", "comments", "filedate"),
]

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
def test_same_fields_as_bare_extraction(name: str, url: str, html: bytes | str) -> None:
    data = decode_html(html, None) if isinstance(html, bytes) else html
    expected = trafilatura.bare_extraction(
        data, url=url, include_comments=False, favor_precision=True, with_metadata=True
    )
    got = extract_fields(data, url, favor_precision=True)
    if expected is None:
        assert got is None
        return
    assert got is not None
    for field in FIELDS:
        assert getattr(got, field) == getattr(expected, field), field


def test_without_a_url_the_page_names_its_own() -> None:
    html = news_page(make_article(7), "https://news.test/2025/story-7.html")
    expected = trafilatura.bare_extraction(
        html, include_comments=False, favor_precision=True, with_metadata=True
    )
    got = extract_fields(html, None, favor_precision=True)
    assert got.url == expected.url == "https://news.test/2025/story-7.html"
    assert got.text == expected.text and got.date == expected.date


def test_the_test_pages_exercise_what_is_mirrored() -> None:
    """The pages above reach the branches of stored_metadata: tags from links, authors from JSON-LD and
    from meta tags, a canonical URL, and a page with categories and a licence that are left out."""
    pages = {name: html for name, _, html in _pages()}
    json_ld = extract_fields(pages["json-ld"], "https://odd.test/j", favor_precision=True)
    assert (json_ld.title, json_ld.author, json_ld.date) == ("From JSON", "Jane Roe", "2025-03-04")
    broken = extract_fields(pages["broken-json-ld"], "https://odd.test/b", favor_precision=True)
    full = trafilatura.bare_extraction(
        pages["broken-json-ld"], url="https://odd.test/b", include_comments=False, with_metadata=True
    )
    assert broken.author == "Ann Example" and broken.tags == ["Rain"]
    assert full.categories and full.license  # what bare_extraction also works out ...
    assert not broken.categories and broken.license is None  # ... and extract_fields leaves out


# sha256 of trafilatura.metadata.extract_metadata's source in the pinned trafilatura (2.3.1).
EXTRACT_METADATA_SHA256 = "40ba8cda7a32c71ad31032d5838af1122b04112ca5fd0f6ebab68af9b75532f9"


def test_mirrored_function_is_unchanged() -> None:
    """stored_metadata mirrors trafilatura.metadata.extract_metadata line by line: if an upgrade changes
    that function, this fails, and stored_metadata must be compared with it again."""
    source = inspect.getsource(trafilatura.metadata.extract_metadata)
    digest = hashlib.sha256(source.encode()).hexdigest()
    assert trafilatura.__version__ == "2.3.1" and digest == EXTRACT_METADATA_SHA256, (
        f"trafilatura {trafilatura.__version__}: extract_metadata changed (sha256 {digest}); "
        "re-check flows/extract/fields.stored_metadata against it, then update this digest"
    )
