"""A small news site served over real HTTP on 127.0.0.1 for the web-source tests: robots.txt, an RSS feed,
a sitemap index with a Google News sitemap and a gzipped urlset, articles with ETag/Last-Modified, and
pages that misbehave on purpose. Every request is logged with its arrival time."""

from __future__ import annotations

import contextlib
import gzip
import os
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from sites import make_article, news_page

ARTICLES = 6  # /news/a0.html ... /news/a5.html
NEWS_DATE = datetime(2026, 11, 20, 8, 0, tzinfo=UTC)


@dataclass
class Request:
    at: float  # time.monotonic() on arrival
    path: str
    host: str
    headers: dict[str, str]


@dataclass
class Page:
    body: bytes
    content_type: str = "text/html; charset=utf-8"
    etag: str | None = None
    last_modified: datetime | None = None


@dataclass
class NewsSite:
    base: str = ""
    pages: dict[str, Page] = field(default_factory=dict)
    requests: list[Request] = field(default_factory=list)
    hits: dict[str, int] = field(default_factory=dict)
    slow_seconds: float = 3.0
    lock: threading.Lock = field(default_factory=threading.Lock)
    redirects: dict[str, str] = field(default_factory=dict)  # path → Location, sent as it is with a 302
    # path → (status, headers, body): sent byte for byte, whatever the headers say of the body; a body that
    # is a callable is called for the pieces to send (a stream that need not fit in memory)
    raw: dict[str, tuple[int, list[tuple[str, str]], bytes | Callable[[], Iterable[bytes]]]] = field(
        default_factory=dict
    )

    def article_url(self, i: int) -> str:
        return f"{self.base}/news/a{i}.html"

    def set_article(self, i: int, seed: int, version: int = 1) -> None:
        url = self.article_url(i)
        html = news_page(make_article(seed), url).encode()
        self.pages[f"/news/a{i}.html"] = Page(
            html, etag=f'"a{i}-v{version}"', last_modified=NEWS_DATE + timedelta(hours=version)
        )

    def requests_for(self, path: str) -> list[Request]:
        return [r for r in self.requests if r.path == path]


def _feed(site: NewsSite) -> bytes:
    items = "".join(
        f"<item><title>Story {i}</title><link>{site.article_url(i)}</link>"
        f"<pubDate>{format_datetime(NEWS_DATE - timedelta(days=i))}</pubDate></item>"
        for i in range(4)
    )
    return (
        '<?xml version="1.0"?><rss version="2.0"><channel><title>Test News</title>'
        f"<link>{site.base}/</link><description>t</description>{items}</channel></rss>"
    ).encode()


def _sitemaps(site: NewsSite) -> dict[str, bytes]:
    index = (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
        f"<sitemap><loc>{site.base}/sitemap-news.xml</loc></sitemap>"
        f"<sitemap><loc>{site.base}/sitemap-pages.xml.gz</loc></sitemap>"
        f"<sitemap><loc>{site.base}/sitemap-broken.xml</loc></sitemap>"
        "</sitemapindex>"
    )
    news = (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9" '
        'xmlns:news="http://www.google.com/schemas/sitemap-news/0.9">'
        + "".join(
            f"<url><loc>{site.article_url(i)}</loc><news:news><news:publication>"
            "<news:name>Test News</news:name><news:language>en</news:language></news:publication>"
            f"<news:publication_date>{(NEWS_DATE - timedelta(days=i)).isoformat()}</news:publication_date>"
            "<news:title>t</news:title></news:news></url>"
            for i in range(3)
        )
        + "</urlset>"
    )
    pages = (
        '<?xml version="1.0" encoding="UTF-8"?><urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
        + "".join(
            f"<url><loc>{site.article_url(i)}</loc><lastmod>2020-01-0{i}</lastmod></url>" for i in (3, 4, 5)
        )
        + f"<url><loc>{site.base}/private/secret.html</loc></url></urlset>"
    )
    return {
        "/sitemap.xml": index.encode(),
        "/sitemap-news.xml": news.encode(),
        "/sitemap-pages.xml.gz": gzip.compress(pages.encode()),
        "/sitemap-broken.xml": b"<?xml version='1.0'?><urlset><url><loc>http://x/</loc></url",
    }


def make_handler(site: NewsSite) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: object) -> None:  # quiet
            pass

        def send(
            self, status: int, body: bytes = b"", content_type: str = "text/html", headers: dict | None = None
        ):
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self) -> None:
            path = self.path.split("?", 1)[0]
            with site.lock:
                site.requests.append(
                    Request(time.monotonic(), path, self.headers.get("Host", ""), dict(self.headers.items()))
                )
                hits = site.hits[path] = site.hits.get(path, 0) + 1
            ok_page = news_page(make_article(900 + len(path)), site.base + path).encode()
            if path == "/":
                home = (
                    "<html><head><title>Test News</title>"
                    '<link rel="alternate" type="application/rss+xml" title="RSS" '
                    f'href="{site.base}/feed.xml">'
                    '</head><body><h1>Test News</h1><a href="/news/a0.html">Story 0</a></body></html>'
                )
                self.send(200, home.encode(), "text/html; charset=utf-8")
            elif path == "/robots.txt":
                self.send(
                    200,
                    f"User-agent: *\nDisallow: /private/\nSitemap: {site.base}/sitemap.xml\n".encode(),
                    "text/plain",
                )
            elif path == "/feed.xml":
                self.send(200, _feed(site), "application/rss+xml")
            elif path == "/bad-feed.xml":
                self.send(200, b"<html><body>this is not a feed <<<", "text/html")
            elif path in _sitemaps(site):
                self.send(200, _sitemaps(site)[path], "application/xml")
            elif path in site.redirects:
                self.send(302, headers={"Location": site.redirects[path]})
            elif path in site.raw:
                status, headers, body = site.raw[path]
                self.send_response(status)
                for name, value in headers:
                    self.send_header(name, value)
                self.end_headers()
                with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                    for piece in [body] if isinstance(body, bytes) else body():
                        self.wfile.write(piece)
                self.close_connection = True
            elif path in site.pages:
                page = site.pages[path]
                headers = {}
                if page.etag:
                    headers["ETag"] = page.etag
                if page.last_modified:
                    headers["Last-Modified"] = format_datetime(page.last_modified, usegmt=True)
                if page.etag and self.headers.get("If-None-Match") == page.etag:
                    self.send(304, b"", page.content_type, headers)
                else:
                    self.send(200, page.body, page.content_type, headers)
            elif path == "/flaky.html":
                self.send(500, b"oops") if hits == 1 else self.send(200, ok_page)
            elif path == "/busy.html":
                self.send(429, b"slow down", headers={"Retry-After": "1"}) if hits == 1 else self.send(
                    200, ok_page
                )
            elif path == "/slow.html":
                time.sleep(site.slow_seconds)
                self.send(200, ok_page)
            elif path == "/huge.html":
                self.send_response(200)
                self.send_header("Content-Type", "text/html")
                self.send_header("Transfer-Encoding", "chunked")
                self.end_headers()
                chunk = b"<p>" + b"x" * (1 << 20) + b"</p>"
                try:
                    for _ in range(50):
                        self.wfile.write(f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n")
                    self.wfile.write(b"0\r\n\r\n")
                except (BrokenPipeError, ConnectionResetError):
                    pass
                self.close_connection = True
            elif path == "/binary.html":
                self.send(200, os.urandom(200_000), "text/html")
            elif path == "/image.png":
                self.send(200, b"\x89PNG\r\n\x1a\n" + os.urandom(1000), "image/png")
            elif path == "/loop-a.html":
                self.send(302, headers={"Location": "/loop-b.html"})
            elif path == "/loop-b.html":
                self.send(302, headers={"Location": "/loop-a.html"})
            elif path == "/moved.html":
                self.send(301, headers={"Location": "/news/a0.html"})
            elif path == "/private/secret.html":
                self.send(200, ok_page)
            else:
                self.send(404, b"not found")

    return Handler


class SiteServer:
    """`with SiteServer() as site:` serves a NewsSite on 127.0.0.1 at site.base."""

    def __init__(self) -> None:
        self.site = NewsSite()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), make_handler(self.site))
        self.server.daemon_threads = True
        self.site.base = f"http://127.0.0.1:{self.server.server_address[1]}"
        for i in range(ARTICLES):
            self.site.set_article(i, seed=300 + i)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> NewsSite:
        self.thread.start()
        return self.site

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
