"""Generated test material: news pages with realistic furniture, written into folders and WARC files.

Articles are made of sentences drawn from a fixed vocabulary with a seeded RNG, so every article is
distinct, stable across runs, and long enough for the extractor to treat as an article.
"""

from __future__ import annotations

import gzip
import html
import io
import os
import random
from dataclasses import dataclass
from pathlib import Path

WORDS = [
    "government",
    "minister",
    "election",
    "border",
    "trade",
    "economy",
    "reform",
    "province",
    "refugees",
    "diplomats",
    "sanctions",
    "parliament",
    "council",
    "treaty",
    "talks",
    "ceasefire",
    "investment",
    "growth",
    "inflation",
    "currency",
    "budget",
    "military",
    "province",
    "villages",
    "farmers",
    "harvest",
    "river",
    "dam",
    "pipeline",
    "port",
    "shipping",
    "coast",
    "island",
    "capital",
    "city",
    "officials",
    "analysts",
    "observers",
    "report",
    "survey",
    "committee",
    "court",
    "judges",
    "lawyers",
    "protest",
    "students",
    "teachers",
    "workers",
    "factories",
    "exports",
    "imports",
    "tariffs",
    "loans",
    "banks",
    "debt",
    "lenders",
    "markets",
    "prices",
    "wages",
]

COMMENT = "20 years and 3 trillion dollars later, uncle sam failed to make anything safe for democracy."
MENU_ITEMS = ("Home", "Politics", "Economy", "Subscribe", "Podcast")


@dataclass
class Article:
    slug: str
    title: str
    author: str
    date: str
    paragraphs: list[str]


def make_article(seed: int, paragraphs: int = 6) -> Article:
    rng = random.Random(seed)

    def sentence() -> str:
        words = [rng.choice(WORDS) for _ in range(rng.randint(12, 22))]
        return " ".join(words).capitalize() + "."

    body = [" ".join(sentence() for _ in range(rng.randint(3, 5))) for _ in range(paragraphs)]
    title = " ".join(rng.choice(WORDS) for _ in range(6)).title() + f" {seed}"
    return Article(f"story-{seed}", title, f"Writer {seed % 7}", f"2025-0{1 + seed % 9}-1{seed % 10}", body)


def news_page(article: Article, url: str, canonical: str | None = None, comment: str = COMMENT) -> str:
    menu = "".join(f'<li><a href="/{m.lower()}">{m}</a></li>' for m in MENU_ITEMS)
    paragraphs = "\n".join(f"<p>{html.escape(p)}</p>" for p in article.paragraphs)
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{html.escape(article.title)}</title>
<meta name="author" content="{article.author}">
<meta property="article:published_time" content="{article.date}T09:00:00Z">
<link rel="canonical" href="{canonical or url}"></head>
<body>
<header><nav class="menu"><ul>{menu}</ul></nav></header>
<main><article>
<h1>{html.escape(article.title)}</h1>
<div class="byline">By {article.author}</div>
<div class="share"><a href="https://twitter.com/share">Share on X</a> <a href="mailto:">Email</a></div>
<div class="entry-content">
{paragraphs}
</div>
<div class="author-bio"><p>{article.author} writes about politics and the economy.</p></div>
</article>
<aside class="related"><h3>Related Stories</h3><ul><li><a href="/a">Another story about trade</a></li></ul></aside>
<section id="comments" class="comments"><h3>1 Comment</h3><ol><li class="comment"><p>{html.escape(comment)}</p></li></ol></section>
</main>
<footer><a href="/privacy">Privacy policy</a> &copy; 2025 Test News</footer>
</body></html>
"""


def syndicated_page(article: Article, url: str, original: str, note: str = "") -> str:
    """The same article on another outlet's template (and a canonical pointing back at the original);
    `note` adds a line after the body ("Republished with permission."), which makes the text differ."""
    paragraphs = "\n".join(f"<p>{html.escape(p)}</p>" for p in article.paragraphs)
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{html.escape(article.title)} - Wire</title>
<link rel="canonical" href="{original}"></head>
<body><div class="cookie">We use cookies. <button>Accept</button></div>
<div id="top"><a href="/world">World</a> <a href="/business">Business</a> <a href="/newsletters">Newsletters</a></div>
<div class="story"><p class="kicker">Analysis</p><h1>{html.escape(article.title)}</h1>
<p class="byline">By {article.author}</p>
<div class="story-body">
{paragraphs}
</div>
{f'<p class="note">{note}</p>' if note else ""}</div>
<div class="trending"><h4>Trending</h4><ul><li><a href="/t/1">Markets close mixed</a></li></ul></div>
</body></html>
"""


def write_site(root: Path, count: int, host: str = "news.test", start: int = 0) -> list[str]:
    """`count` distinct articles as root/<host>/<year>/<slug>.html; returns their URLs."""
    urls = []
    for seed in range(start, start + count):
        article = make_article(seed)
        url = f"https://{host}/2025/{article.slug}.html"
        path = root / host / "2025" / f"{article.slug}.html"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(news_page(article, url), encoding="utf-8")
        urls.append(url)
    return urls


def warc_bytes(records: list[tuple[str, str, str, bytes]], compress: bool = True) -> bytes:
    """A WARC of response records (url, status line, content type, body), written with warcio."""
    from warcio.statusandheaders import StatusAndHeaders
    from warcio.warcwriter import WARCWriter

    buffer = io.BytesIO()
    writer = WARCWriter(buffer, gzip=compress)
    for url, status, content_type, body in records:
        headers = StatusAndHeaders(
            status, [("Content-Type", content_type), ("Content-Length", str(len(body)))], protocol="HTTP/1.1"
        )
        record = writer.create_warc_record(
            url,
            "response",
            payload=io.BytesIO(body),
            http_headers=headers,
            warc_headers_dict={"WARC-Date": "2025-07-12T06:30:00Z"},
        )
        writer.write_record(record)
    return buffer.getvalue()


def gzip_bytes(data: bytes) -> bytes:
    return gzip.compress(data)


def write_warc_corpus(folder: Path, articles: int = 240) -> None:
    """Two WARC files: articles, their syndicated copies (other site, other template) and exact copies
    under other URLs, shuffled across both files, padded so that each file is cut into several units."""
    records = []
    for seed in range(articles):
        article = make_article(seed)
        url = f"https://news.test/2025/{article.slug}.html"
        records.append((url, news_page(article, url)))
        if seed % 3 == 0:
            records.append((f"https://wire.test/{seed}", syndicated_page(article, f"https://w/{seed}", url)))
        if seed % 5 == 0:
            records.append((url + "?amp=1", news_page(article, url)))
    records.sort(key=lambda r: hash(r[0]) % 7919)
    half = len(records) // 2
    folder.mkdir(parents=True)
    for name, part in (("a", records[:half]), ("b", records[half:])):
        rows = [(u, "200 OK", "text/html; charset=utf-8", body.encode()) for u, body in part]
        rows += [  # filler that is not HTML: bytes for the file, nothing for the warehouse
            (f"https://news.test/img/{name}{i}.bin", "200 OK", "image/png", os.urandom(24_000))
            for i in range(60)
        ]
        (folder / f"{name}.warc.gz").write_bytes(warc_bytes(rows))
