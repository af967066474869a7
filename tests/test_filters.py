"""Quality filters, called directly: each filter's verdict, their order, and a filter added to FILTERS
taking part with its own setting."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from flows import filters
from flows.config import FilterFields, load_config
from flows.records import DocumentRow, Extracted, rejected

pytestmark = pytest.mark.unit


def document(url: str = "https://news.test/2025/07/story.html", **changes: object) -> DocumentRow:
    row: DocumentRow = {
        "doc_id": "0123456789abcdef",
        "url": url,
        "canonical_url": url,
        "title": "A story",
        "page_title": None,
        "authors": [],
        "published_utc": None,
        "published_date": None,
        "published_offset": None,
        "published_precision": None,
        "modified_utc": None,
        "modified_offset": None,
        "modified_precision": None,
        "section": None,
        "image": None,
        "language": "en",
        "sitename": None,
        "description": None,
        "tags": [],
        "text": " ".join(["word"] * 80),
        "word_count": 80,
        "content_hash": "0" * 32,
        "duplicate_of": None,
        "page_type": "article",
        "fetched_at": datetime(2025, 7, 1, tzinfo=UTC),
        "origin": "/data/site/story.html",
        "schema_version": 2,
    }
    row.update(changes)  # type: ignore[typeddict-item]
    return row


DEFAULTS = FilterFields()


@pytest.mark.parametrize(
    ("url", "page_type", "why"),
    [
        ("https://news.test/", None, "front page"),
        ("https://news.test/tag/economy", None, "tag"),
        ("https://news.test/category/world/", None, "category"),
        ("https://news.test/authors/jane", None, "authors"),
        ("https://news.test/search?q=x", None, "search"),
        ("https://news.test/news?page=2", None, "paging"),
        ("https://news.test/2025/07/story.html", "CollectionPage", "page type"),
    ],
)
def test_listing_pages_are_not_articles(url: str, page_type: str | None, why: str) -> None:
    """Pages that declare nothing are judged by their URL; a listing page type is a listing anywhere."""
    failed = filters.articles_only(document(url, page_type=page_type), DEFAULTS)
    assert failed is not None and failed[0] == "not_article" and why in failed[1]
    assert (
        filters.articles_only(document(url, page_type=page_type), FilterFields(articles_only=False)) is None
    )


@pytest.mark.parametrize(
    ("url", "changes"),
    [
        # the page's own signals keep it wherever its URL points
        ("https://news.test/category/world/some-story", {"page_type": "article"}),  # og:type
        ("https://news.test/topics/trade/a-story", {"page_type": "NewsArticle"}),  # JSON-LD
        ("https://news.test/tag/x/story", {"page_type": "ReportageNewsArticle"}),
        ("https://news.test/section/world/x", {"published_meta": True}),  # article:published_time
        # without them, an article's id after the listing word
        ("https://www.example.com/archive/63076", {}),
        ("https://www.example.com.tw/News/front/archives/2024/10/16/2003825481", {}),
        ("http://example.co.kr/news/news_view.html?idx=8576&page=1&bc=03&find=", {}),
        ("https://example.com/?p=1234", {}),  # WordPress's plain permalinks
        ("https://news.test/archive/2024/why-the-talks-failed-again", {}),
        # archive/section with a byline and a date found on the page
        ("https://news.test/sections/world", {"authors": ["Jane Roe"], "published_date": date(2025, 7, 1)}),
    ],
)
def test_articles_are_kept_by_their_signals_or_their_id(url: str, changes: dict[str, object]) -> None:
    row = document(url, **{"page_type": None, **changes})
    assert filters.articles_only(row, DEFAULTS) is None


@pytest.mark.parametrize(
    "url",
    [
        "https://news.test/tag/united-states-of-america",  # a slug after tag is the tag's name
        "https://news.test/authors/jane-roe",
        "https://news.test/tag/x?id=1",
        "https://news.test/search?q=trade&page=2",
        "https://news.test/?s=trade",
    ],
)
def test_listings_stay_listings_without_signals(url: str) -> None:
    row = document(url, page_type=None, authors=["Jane Roe"], published_date=date(2025, 7, 1))
    failed = filters.articles_only(row, DEFAULTS)
    assert failed is not None and failed[0] == "not_article", url
    declared = document(url, page_type="CollectionPage", published_meta=True)
    assert filters.articles_only(declared, DEFAULTS) is not None  # a listing type wins over everything


def test_an_archive_without_byline_or_id_is_a_listing() -> None:
    failed = filters.articles_only(document("https://news.test/archive/2024", page_type=None), DEFAULTS)
    assert failed == ("not_article", "a listing page (archive in the URL)")


def test_an_article_whose_canonical_is_fine_but_read_under_a_listing_url_is_not_kept() -> None:
    row = document(
        "https://news.test/tag/x?id=1", canonical_url="https://news.test/2025/07/story.html", page_type=None
    )
    assert filters.articles_only(row, DEFAULTS) == ("not_article", "a listing page (tag in the URL)")
    assert filters.articles_only(document(), DEFAULTS) is None


def test_min_words_and_languages() -> None:
    assert filters.min_words(document(word_count=49), DEFAULTS) == ("too_short", "49 words < min_words 50")
    assert filters.min_words(document(word_count=50), DEFAULTS) is None
    assert filters.min_words(document(word_count=3), FilterFields(min_words=0)) is None
    assert filters.languages(document(language="fr"), DEFAULTS) is None  # empty list: every language
    english = FilterFields(languages=["en"])
    assert filters.languages(document(language="fr"), english) == ("language", "language 'fr' not in ['en']")
    assert filters.languages(document(language=None), english) == ("language", "language None not in ['en']")
    assert filters.languages(document(language="en"), english) is None


def test_the_first_failing_filter_gives_the_reason() -> None:
    settings = FilterFields(min_words=100, languages=["de"])
    short_french_tag_page = document("https://news.test/tag/x", word_count=3, language="fr", page_type=None)
    assert filters.check(short_french_tag_page, settings)[0] == "not_article"  # type: ignore[index]
    assert filters.check(document(word_count=3, language="fr"), settings)[0] == "too_short"  # type: ignore[index]
    assert filters.check(document(language="fr"), FilterFields(languages=["de"]))[0] == "language"  # type: ignore[index]
    assert filters.check(document(), DEFAULTS) is None


def test_filtered_turns_a_failing_document_into_a_reject_and_leaves_rejects_alone() -> None:
    row = document(word_count=10)
    outcome = filters.filtered(Extracted(document=row), DEFAULTS)
    assert outcome.document is None and outcome.reject is not None
    assert outcome.reject["reason"] == "too_short"
    assert (outcome.reject["url"], outcome.reject["origin"]) == (row["url"], row["origin"])
    assert outcome.reject["fetched_at"] == row["fetched_at"]
    kept = Extracted(document=document())
    assert filters.filtered(kept, DEFAULTS) is kept
    from flows.records import Page

    already = rejected(Page("https://news.test/x", b"", datetime.now(UTC), "x"), "no_text", "empty")
    assert filters.filtered(already, DEFAULTS) is already


def test_a_new_filter_is_one_function_in_filters(monkeypatch: pytest.MonkeyPatch) -> None:
    """The extension point: a function appended to FILTERS runs after the others, in every check."""

    def no_shouting(row: DocumentRow, settings: FilterFields) -> tuple[str, str] | None:
        return ("shouting", "the title is all capitals") if (row["title"] or "").isupper() else None

    monkeypatch.setattr(filters, "FILTERS", [*filters.FILTERS, no_shouting])
    assert filters.check(document(title="BREAKING NEWS"), DEFAULTS) == (
        "shouting",
        "the title is all capitals",
    )
    assert filters.check(document(title="BREAKING", word_count=3), DEFAULTS)[0] == "too_short"  # type: ignore[index]
    assert filters.check(document(), DEFAULTS) is None


def test_a_source_carries_its_filter_settings(make_config) -> None:
    config = load_config(
        make_config(
            '[[sources]]\nname = "s"\nkind = "files"\npath = "x/*.html"\n'
            'min_words = 10\nlanguages = ["en", "fr"]\narticles_only = false\n'
        )
    )
    assert config.sources[0].filters() == FilterFields(
        min_words=10, languages=["en", "fr"], articles_only=False
    )
