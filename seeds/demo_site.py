"""Serve the offline sample as a small news site on 127.0.0.1, to try web sources and schedules with no
network: a home page that advertises an RSS feed, the feed, a sitemap, robots.txt, and the articles.

    .venv/bin/python seeds/demo_site.py [--port 8000]

Articles keep their sample paths: seeds/sample/<host>/<path> is served at /<host>/<path>. The feed lists
the newest first; touch or add a file under seeds/sample/ and the next run of a source on it sees it.
"""

from __future__ import annotations

import argparse
import contextlib
import html
import re
from datetime import UTC, datetime
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

SAMPLE = Path(__file__).resolve().parent / "sample"
_TITLE = re.compile(rb"<title>(.*?)</title>", re.IGNORECASE | re.DOTALL)


def articles() -> list[tuple[str, str, datetime]]:
    """(path, title, modified) of the sample's article pages, newest first (tag and app pages left out)."""
    found = []
    for file in SAMPLE.rglob("*.html"):
        path = "/" + file.relative_to(SAMPLE).as_posix()
        if "/tag/" in path or "/app/" in path or path.endswith(".amp.html"):
            continue
        match = _TITLE.search(file.read_bytes()[:20_000])
        title = html.unescape(match.group(1).decode("utf-8", "replace").strip()) if match else path
        found.append((path, title, datetime.fromtimestamp(file.stat().st_mtime, UTC)))
    return sorted(found, key=lambda a: (a[2], a[0]), reverse=True)


def feed(base: str) -> bytes:
    items = "".join(
        f"<item><title>{html.escape(title)}</title><link>{base}{path}</link>"
        f"<pubDate>{format_datetime(modified)}</pubDate></item>"
        for path, title, modified in articles()
    )
    return (
        '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>Sample news</title>'
        f"<link>{base}/</link><description>The corpus sample, served locally</description>{items}"
        "</channel></rss>"
    ).encode()


def sitemap(base: str) -> bytes:
    urls = "".join(
        f"<url><loc>{base}{path}</loc><lastmod>{modified.date().isoformat()}</lastmod></url>"
        for path, _title, modified in articles()
    )
    return (
        '<?xml version="1.0" encoding="utf-8"?>'
        f'<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">{urls}</urlset>'
    ).encode()


def home(base: str) -> bytes:
    links = "".join(f'<li><a href="{path}">{html.escape(title)}</a></li>' for path, title, _ in articles())
    return (
        "<!doctype html><html lang='en'><head><meta charset='utf-8'><title>Sample news</title>"
        f'<link rel="alternate" type="application/rss+xml" title="Sample news" href="{base}/feed.xml">'
        f"</head><body><h1>Sample news</h1><ul>{links}</ul></body></html>"
    ).encode()


class Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        base = f"http://{self.headers.get('Host', '127.0.0.1')}"
        path = self.path.split("?", 1)[0]
        if path == "/":
            self.reply(200, home(base), "text/html; charset=utf-8")
        elif path == "/feed.xml":
            self.reply(200, feed(base), "application/rss+xml")
        elif path == "/sitemap.xml":
            self.reply(200, sitemap(base), "application/xml")
        elif path == "/robots.txt":
            self.reply(200, f"User-agent: *\nAllow: /\nSitemap: {base}/sitemap.xml\n".encode(), "text/plain")
        else:
            file = (SAMPLE / path.lstrip("/")).resolve()
            if file.is_file() and file.is_relative_to(SAMPLE) and file.suffix == ".html":
                self.reply(200, file.read_bytes(), "text/html; charset=utf-8")
            else:
                self.reply(404, b"not found", "text/plain")

    def reply(self, status: int, body: bytes, content_type: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--port", type=int, default=8000)
    args = parser.parse_args()
    server = ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
    print(f"sample news site on http://127.0.0.1:{args.port}/ ({len(articles())} articles); Ctrl-C to stop")
    with contextlib.suppress(KeyboardInterrupt):
        server.serve_forever()


if __name__ == "__main__":
    main()
