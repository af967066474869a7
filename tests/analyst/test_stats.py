"""`corpus stats` and the sources view count what their headers say: duplicates are the documents stored
as copies (duplicate_of set), whichever page represents their article; rejects are pages, not rows."""

from __future__ import annotations

from pathlib import Path

import pytest
from command import corpus
from sites import make_article, news_page, syndicated_page

from flows.ingest import ingest
from flows.warehouse import connect

pytestmark = pytest.mark.flow

ORIGINAL = "https://news.test/world/original.html"


def test_a_copy_that_represents_its_article_still_counts_as_a_duplicate(tmp_path: Path, make_config) -> None:
    article = make_article(5, paragraphs=8)
    first = tmp_path / "a" / "news.test" / "world" / "original.html"
    first.parent.mkdir(parents=True)
    first.write_text(news_page(article, ORIGINAL))
    copy = tmp_path / "b" / "wire.test" / "s" / "1.html"
    copy.parent.mkdir(parents=True)
    copy.write_text(syndicated_page(article, "https://wire.test/s/1.html", ORIGINAL))
    config = make_config(
        '[warehouse]\npath = "wh"\n'
        '[[sources]]\nname = "a"\nkind = "files"\npath = "a/**/*.html"\nurl_prefix = "https://"\n'
        '[[sources]]\nname = "b"\nkind = "files"\npath = "b/**/*.html"\nurl_prefix = "https://"\n'
        "priority = 10\n"  # b's page represents the article, though it was stored second
    )
    assert ingest(str(config)).ok
    with connect(config) as con:
        sql = "select source, documents, articles, duplicates from sources order by 1"
        rows = con.execute(sql).fetchall()
    assert rows == [("a", 1, 0, 0), ("b", 1, 1, 1)]
    done = corpus("stats", "--config", config)
    assert done.returncode == 0, done.stderr
    line = next(line.split() for line in done.stdout.splitlines() if line.split()[:1] == ["b"])
    assert line[1:5] == ["1", "1", "1", "100.0"], done.stdout
