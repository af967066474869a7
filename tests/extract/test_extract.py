"""HTML → document: main text without furniture or comments, metadata, normalisation, rejects."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sites import COMMENT, MENU_ITEMS, make_article, news_page, syndicated_page

from flows.extract.options import ExtractOptions
from flows.extract.page import IdenticalPages, content_hash, extract_page, normalize_text
from flows.extract.urls import canonical_url, choose_canonical
from flows.records import Page

pytestmark = pytest.mark.unit

NOW = datetime(2025, 7, 20, tzinfo=UTC)
OPTIONS = ExtractOptions()


def page(html: str | bytes, url: str = "https://news.test/2025/story.html") -> Page:
    data = html.encode() if isinstance(html, str) else html
    return Page(url=url, html=data, fetched_at=NOW, origin="test")


def test_main_text_keeps_body_and_drops_menus_comments_and_headline() -> None:
    article = make_article(1)
    outcome = extract_page(page(news_page(article, "https://news.test/2025/story-1.html")), OPTIONS)
    doc = outcome.document
    assert doc is not None, outcome.reject
    for paragraph in article.paragraphs:
        assert paragraph in doc["text"]
    assert "uncle sam" not in doc["text"]
    assert not any(line in MENU_ITEMS for line in doc["text"].splitlines())
    assert "Related Stories" not in doc["text"] and "Privacy policy" not in doc["text"]
    assert not doc["text"].startswith(article.title)
    assert doc["title"] == article.title
    assert doc["authors"] == [article.author]
    assert doc["published_date"].isoformat() == article.date
    assert doc["language"] == "en"
    assert doc["word_count"] == len(doc["text"].split())
    assert doc["content_hash"] == content_hash(doc["text"])
    assert doc["canonical_url"] == "https://news.test/2025/story-1.html"


def test_syndicated_copy_on_another_template_has_the_same_text() -> None:
    article = make_article(2)
    original = "https://news.test/2025/story-2.html"
    first = extract_page(page(news_page(article, original), original), OPTIONS).document
    copy = extract_page(
        page(syndicated_page(article, "https://wire.test/s/2", original), "https://wire.test/s/2"), OPTIONS
    ).document
    assert first["content_hash"] == copy["content_hash"]
    # the copy's canonical points at another site: not adopted
    assert copy["canonical_url"] == "https://wire.test/s/2"
    assert first["doc_id"] != copy["doc_id"]


def test_identical_bytes_under_another_url_reuse_the_extraction_exactly() -> None:
    """A worker does not extract the same bytes twice when the page names its own URL; the copy's document
    is exactly what a fresh extraction under the copy's URL gives (location columns included)."""
    original = "https://news.test/2025/story-3.html"
    html = news_page(make_article(3), original)
    seen = IdenticalPages(16)
    urls = [
        "https://mirror.test/x/3.html",
        "https://www.news.test/2025/story-3.html?utm_source=feed",
        "https://mirror.test/x/3.html",
        original,
    ]
    for url in urls:
        copy = extract_page(page(html, url), OPTIONS, seen).document
        assert copy == extract_page(page(html, url), OPTIONS).document
        assert copy["url"] == url
    assert seen.hits == 3

    # read first under the URL it names, the page may have taken its URL from there: not remembered
    seen = IdenticalPages(16)
    extract_page(page(html, original), OPTIONS, seen)
    extract_page(page(html, original), OPTIONS, seen)
    assert seen.hits == 0

    # a page that does not name itself takes URL, host and date from the URL read: extracted every time
    anonymous = html.replace(f'<link rel="canonical" href="{original}">', "")
    extract_page(page(anonymous, original), OPTIONS, seen)
    mirrored = extract_page(page(anonymous, "https://mirror.test/y/3.html"), OPTIONS, seen).document
    assert seen.hits == 0 and mirrored["canonical_url"] == "https://mirror.test/y/3.html"

    off = IdenticalPages(0)
    for url in urls:
        extract_page(page(html, url), OPTIONS, off)
    assert off.hits == 0


def test_pages_without_text_are_rejected_with_a_reason() -> None:
    empty = extract_page(page("<html><body><div id='app'></div></body></html>"), OPTIONS)
    assert empty.reject["reason"] == "no_text"
    blank = extract_page(page(b"   \n"), OPTIONS)
    assert blank.reject["reason"] == "no_text"
    binary = extract_page(page(bytes(range(256)) * 40), OPTIONS)
    assert binary.reject["reason"] == "not_html"
    large = extract_page(page(b"<html>" + b"x" * 2000 + b"</html>"), ExtractOptions(max_bytes=1000))
    assert large.reject["reason"] == "too_large" and "1000" in large.reject["detail"]


def test_normalisation() -> None:
    decomposed = "Cafe\u0301  au\u00a0lait\t here\n\n  second   line  \n"
    assert normalize_text(decomposed) == "Café au lait here\nsecond line"


def test_canonical_urls() -> None:
    assert (
        canonical_url("HTTPS://News.Test:443/a/b?utm_source=x&id=3&fbclid=1#top")
        == "https://news.test/a/b?id=3"
    )
    fetched = "https://www.news.test/2025/a.amp.html"
    assert choose_canonical(fetched, "https://news.test/2025/a.html") == "https://news.test/2025/a.html"
    assert choose_canonical(fetched, "https://other.test/a.html") == fetched
    assert choose_canonical("file:///tmp/a.html", "https://news.test/a.html") == "https://news.test/a.html"
    assert choose_canonical(fetched, None) == fetched


def test_comment_phrase_is_really_in_the_page() -> None:
    """Guards the tests above: the comment they expect to be dropped is present in the input."""
    assert COMMENT in news_page(make_article(3), "https://news.test/x")


def test_declared_charset_is_honoured() -> None:
    from flows.extract.page import decode_html
    from flows.sources.warc import charset_of

    latin = "<html><head><meta charset='windows-1252'></head><p>Café déjà vu</p></html>".encode("cp1252")
    assert decode_html(latin, None) == latin.decode("cp1252")  # <meta charset>
    header = "<p>Grüße</p>".encode("iso-8859-1")
    assert decode_html(header, charset_of("text/html; charset=ISO-8859-1")) == "<p>Grüße</p>"  # HTTP header
    utf8 = "<meta charset=utf-8><p>naïve</p>".encode()
    assert decode_html(utf8, None) is utf8  # UTF-8 stays bytes: trafilatura decodes it
    assert decode_html(b"<p>x</p>", "no-such-charset") == b"<p>x</p>"  # unknown: left to detection
    assert charset_of("text/html") is None
