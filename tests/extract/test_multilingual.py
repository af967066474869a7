"""Articles in Chinese, Japanese, Korean, Thai, Arabic and Russian are stored, in their language, with
word counts within 20 % of a reader's count (tests/multilingual.py), through extraction and the default
filters and through a whole ingest with a `languages` filter naming them."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import duckdb
import pytest
from multilingual import PAGES, Foreign, foreign_page
from sites import make_article, news_page

from flows import filters
from flows.config import ExtractConfig, FilterFields
from flows.extract.options import ExtractOptions
from flows.extract.page import extract_page
from flows.extract.words import count_words
from flows.ingest import ingest
from flows.records import Page


@pytest.mark.unit
@pytest.mark.parametrize("page", PAGES, ids=[p.language for p in PAGES])
def test_article_is_kept_with_a_readers_word_count(page: Foreign) -> None:
    fetched = Page(page.url, foreign_page(page).encode(), datetime(2025, 10, 16, tzinfo=UTC), "test")
    outcome = extract_page(fetched, ExtractOptions.of(ExtractConfig()))
    document = outcome.document
    assert document is not None, outcome.reject
    assert document["language"] == page.language
    assert document["text"].split("\n") == page.texts  # no menu, byline, related links or footer
    assert abs(document["word_count"] - page.reader_words) <= 0.2 * page.reader_words, (
        document["word_count"],
        page.reader_words,
    )
    assert filters.check(document, FilterFields()) is None
    assert filters.check(document, FilterFields(languages=[page.language])) is None
    other = "en" if page.language != "en" else "fr"
    assert filters.check(document, FilterFields(languages=[other])) == (
        "language",
        f"language {page.language!r} not in {[other]!r}",
    )


@pytest.mark.unit
@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("", 0),
        ("one two  three\nfour", 4),
        ("— a dash is a piece of its own —", 9),  # as before: white-space pieces, punctuation included
        ("北京时间，中国外交部发言人表示", 6),  # 北京 时间 中国 外交部 发言人 表示 (ICU: 发言 人, 7)
        ("東京都は16日、発表した。", 6),  # 東京都 は 16 日 発表 した (ICU: 東京 都, 7)
        ("รัฐบาลไทยประกาศมาตรการใหม่", 5),
        ("The WHO said 世界卫生组织 today", 7),  # mixed: only 世界卫生组织 is segmented
    ],
)
def test_count_words(text: str, words: int) -> None:
    assert abs(count_words(text) - words) <= 1


@pytest.mark.flow
def test_ingest_keeps_every_language_it_is_told_to(tmp_path: Path, make_config) -> None:
    root = tmp_path / "site"
    for page in PAGES:
        name = page.path.strip("/").split("?")[0]
        target = root / page.host / (name if "." in name.rpartition("/")[2] else name + ".html")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(foreign_page(page), encoding="utf-8")
    english = root / "news.test" / "2025" / "10" / "story.html"
    english.parent.mkdir(parents=True)
    english.write_text(news_page(make_article(3), "https://news.test/2025/10/story.html"))
    config = make_config(
        '[warehouse]\npath = "wh"\n'
        '[[sources]]\nname = "world"\nkind = "files"\npath = "site/**/*.htm*"\nurl_prefix = "https://"\n'
        'languages = ["zh", "ja", "ko", "th", "ar", "ru"]\n'
    )
    summary = ingest(str(config))
    stats = summary.sources["world"]
    assert (stats.status, stats.written, stats.rejected) == ("completed", 6, 1), stats
    with duckdb.connect(summary.catalog, read_only=True) as con:
        stored = dict(con.execute("select language, word_count from documents").fetchall())
        canonical = {row[0] for row in con.execute("select canonical_url from documents").fetchall()}
        rejects = con.execute("select reason, detail from rejects").fetchall()
    assert rejects == [("language", "language 'en' not in ['zh', 'ja', 'ko', 'th', 'ar', 'ru']")]
    assert canonical == {page.url for page in PAGES}
    for page in PAGES:
        assert abs(stored[page.language] - page.reader_words) <= 0.2 * page.reader_words
