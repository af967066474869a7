"""A labelled suite of listing shapes: sitemaps, sitemap indexes, feeds and whole sites in the forms real
publishers and crawlers' test suites show (ultimate-sitemap-parser, advertools, feedparser, trafilatura
and sitemaps.org/RSS/Atom/JSON Feed themselves): cut-off and damaged files, text sitemaps, gzip by name,
by magic or by header, BOMs and junk before the declaration, image/video/news/hreflang extensions, Atom
link relations and xml:base, RSS guids, robots.txt with several Sitemap lines, listings only at the usual
paths. Each shape is a site of its own on 127.0.0.1 (one server per shape, so robots.txt and the usual
paths are its own) with the article URLs it should yield: its label.

`run_shapes(folder)` writes one config (the listing shapes as sources, the site shapes added by
`corpus sources add`), runs the ingest over it, and measures per shape which pages the crawler asked
for: recall (labelled pages fetched) and precision (fetched pages that are labelled). Run as a script it
prints the table: `python tests/listing_shapes.py`.
"""

from __future__ import annotations

import gzip
import json
import sys
import threading
import zlib
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote, urlsplit

sys.path.insert(0, str(Path(__file__).parent))
from sites import make_article, news_page

SM = 'xmlns="http://www.sitemaps.org/schemas/sitemap/0.9"'
DECL = '<?xml version="1.0" encoding="UTF-8"?>'


@dataclass
class Served:
    body: bytes
    content_type: str = "application/xml"
    headers: list[tuple[str, str]] = field(default_factory=list)
    status: int = 200


@dataclass
class Site:
    """What one shape's server serves (besides article pages under /a/), what to read and what to find."""

    files: dict[str, Served]
    expected: list[str]  # article URLs (absolute)
    listings: list[str] = field(default_factory=list)  # for a listing shape: the source's url(s)
    kind: str = "sitemap"  # the source's kind (listing shapes)
    discover: bool = False  # a site shape: `corpus sources add <base>/` makes its source
    damaged: bool = False  # a bad_sitemap/bad_feed row is expected
    absent: tuple[str, ...] = ()  # listings named that are not there (asked for as listings, not pages)


def _pages(base: str, name: str, n: int, start: int = 0) -> list[str]:
    return [f"{base}/a/{name}-{i}.html" for i in range(start, start + n)]


def _urlset(
    locs: list[str], ns: str = SM, extra: Callable[[str], str] = lambda u: "", head: str = DECL
) -> bytes:
    body = "".join(f"<url><loc>{loc}</loc>{extra(loc)}</url>" for loc in locs)
    return f"{head}<urlset {ns}>{body}</urlset>".encode()


def _index(locs: list[str]) -> bytes:
    body = "".join(f"<sitemap><loc>{loc}</loc></sitemap>" for loc in locs)
    return f"{DECL}<sitemapindex {SM}>{body}</sitemapindex>".encode()


def _rss(links: list[str], item: Callable[[str], str] | None = None, version: str = "2.0") -> bytes:
    def default(link: str) -> str:
        return f"<title>t</title><link>{link}</link><pubDate>Fri, 20 Nov 2026 08:00:00 GMT</pubDate>"

    items = "".join(f"<item>{(item or default)(link)}</item>" for link in links)
    return (
        f'{DECL}<rss version="{version}"><channel><title>News</title><link>http://x/</link>'
        f"<description>d</description>{items}</channel></rss>"
    ).encode()


def _atom(entries: list[str], head: str = "") -> bytes:
    return (
        f'{DECL}<feed xmlns="http://www.w3.org/2005/Atom"{head}><title>News</title><id>urn:x</id>'
        f"<updated>2026-11-20T08:00:00Z</updated>{''.join(entries)}</feed>"
    ).encode()


def _entry(links: str, n: int) -> str:
    return (
        f"<entry><title>t{n}</title><id>urn:e{n}</id><updated>2026-11-20T08:00:00Z</updated>{links}</entry>"
    )


def _cut_at(body: bytes, marker: bytes, occurrence: int, inside: int = 0) -> bytes:
    """`body` cut `inside` bytes past the start of the `occurrence`-th `marker`."""
    at = -1
    for _ in range(occurrence):
        at = body.index(marker, at + 1)
    return body[: at + inside]


# ---- the shapes: name -> Site for a server whose base URL is given


def sitemap_shapes(b: str) -> dict[str, Site]:
    s: dict[str, Site] = {}
    p = _pages(b, "plain", 8)
    s["urlset"] = Site({"/sitemap.xml": Served(_urlset(p))}, p, ["/sitemap.xml"])
    p = _pages(b, "nons", 6)
    s["urlset without namespace"] = Site({"/s.xml": Served(_urlset(p, ns=""))}, p, ["/s.xml"])
    p = _pages(b, "gzname", 6)
    s["gzip, .xml.gz name"] = Site(
        {"/s.xml.gz": Served(gzip.compress(_urlset(p)), "application/x-gzip")}, p, ["/s.xml.gz"]
    )
    p = _pages(b, "gzmagic", 6)
    s["gzip by magic only"] = Site(
        {"/s.xml": Served(gzip.compress(_urlset(p)), "application/octet-stream")}, p, ["/s.xml"]
    )
    p = _pages(b, "gzheader", 6)
    s["Content-Encoding: gzip"] = Site(
        {"/s.xml": Served(gzip.compress(_urlset(p)), headers=[("Content-Encoding", "gzip")])}, p, ["/s.xml"]
    )
    p = _pages(b, "gznotgz", 6)
    s[".gz name, not gzipped"] = Site({"/s.xml.gz": Served(_urlset(p), "text/xml")}, p, ["/s.xml.gz"])
    p = _pages(b, "text", 7)
    s["text sitemap"] = Site(
        {"/sitemap.txt": Served("\n".join(p).encode(), "text/plain")}, p, ["/sitemap.txt"]
    )
    p = _pages(b, "textgz", 5)
    s["text sitemap, gzipped"] = Site(
        {"/sitemap.txt.gz": Served(gzip.compress("\n".join(p).encode()), "application/gzip")},
        p,
        ["/sitemap.txt.gz"],
    )
    p = _pages(b, "textcrlf", 5)
    body = ("\ufeff\r\n" + "\r\n\r\n".join(f"  {u}  " for u in p) + "\r\n").encode()
    s["text sitemap, BOM, CRLF, blank lines"] = Site({"/s.txt": Served(body, "text/plain")}, p, ["/s.txt"])
    p = _pages(b, "ws", 5)
    s["blank lines before <?xml"] = Site({"/s.xml": Served(b"\n\n   \n" + _urlset(p))}, p, ["/s.xml"])
    p = _pages(b, "bom", 5)
    s["UTF-8 BOM"] = Site({"/s.xml": Served(b"\xef\xbb\xbf" + _urlset(p))}, p, ["/s.xml"])
    p = _pages(b, "junk", 5)
    s["PHP warning before <?xml"] = Site(
        {
            "/s.xml": Served(
                b"<br />\n<b>Warning</b>: Cannot modify header information in x.php\n" + _urlset(p)
            )
        },
        p,
        ["/s.xml"],
    )
    p = _pages(b, "cutloc", 8)
    s["cut inside a <loc>"] = Site(
        {"/s.xml": Served(_cut_at(_urlset(p), b"<loc>", 6, inside=20))}, p[:5], ["/s.xml"], damaged=True
    )
    p = _pages(b, "cutend", 8)
    s["cut after a </url>, no closing tags"] = Site(
        {"/s.xml": Served(_cut_at(_urlset(p), b"</urlset>", 1))}, p, ["/s.xml"], damaged=True
    )
    p = _pages(b, "cutgz", 40)
    cut = gzip.compress(
        _urlset(p, extra=lambda u: f"<lastmod>2026-11-{len(u) % 28 + 1:02d}</lastmod>"), mtime=0
    )
    cut = cut[: len(cut) * 2 // 3]
    held = zlib.decompressobj(31).decompress(cut)  # what the cut file holds: the entries closed in it count
    s["gzip cut short"] = Site(
        {"/s.xml.gz": Served(cut, "application/gzip")},
        [u for u in p if f"{u}</loc>".encode() in held and held.find(b"</url>", held.find(u.encode())) > 0],
        ["/s.xml.gz"],
        damaged=True,
    )
    p = _pages(b, "nested", 9)
    s["index of indexes"] = Site(
        {
            "/index.xml": Served(_index([f"{b}/index-2.xml", f"{b}/part-3.xml"])),
            "/index-2.xml": Served(_index([f"{b}/part-1.xml", f"{b}/part-2.xml.gz"])),
            "/part-1.xml": Served(_urlset(p[:3])),
            "/part-2.xml.gz": Served(gzip.compress(_urlset(p[3:6])), "application/gzip"),
            "/part-3.xml": Served(_urlset(p[6:])),
        },
        p,
        ["/index.xml"],
    )
    p = _pages(b, "selfidx", 6)
    s["index that lists itself"] = Site(
        {
            "/index.xml": Served(_index([f"{b}/index.xml"] * 10 + [f"{b}/part.xml", f"{b}/index.xml#x"])),
            "/part.xml": Served(_urlset(p)),
        },
        p,
        ["/index.xml"],
    )
    p = _pages(b, "child404", 6)
    s["index with a missing child"] = Site(
        {
            "/index.xml": Served(_index([f"{b}/one.xml", f"{b}/gone.xml", f"{b}/two.xml"])),
            "/one.xml": Served(_urlset(p[:3])),
            "/two.xml": Served(_urlset(p[3:])),
        },
        p,
        ["/index.xml"],
        damaged=True,
        absent=("/gone.xml",),
    )
    p = _pages(b, "relidx", 4)
    s["index with relative child locs"] = Site(
        {
            "/maps/index.xml": Served(_index(["part.xml", "/maps/other.xml"])),
            "/maps/part.xml": Served(_urlset(p[:2])),
            "/maps/other.xml": Served(_urlset(p[2:])),
        },
        p,
        ["/maps/index.xml"],
    )
    p = _pages(b, "news", 6)
    news_ns = f'{SM} xmlns:news="http://www.google.com/schemas/sitemap-news/0.9"'
    s["Google News sitemap"] = Site(
        {
            "/news.xml": Served(
                _urlset(
                    p,
                    news_ns,
                    lambda u: (
                        "<news:news><news:publication><news:name>N</news:name><news:language>en"
                        "</news:language></news:publication><news:publication_date>2026-11-20T08:00:00+00:00"
                        "</news:publication_date><news:title>T</news:title></news:news>"
                    ),
                )
            )
        },
        p,
        ["/news.xml"],
    )
    p = _pages(b, "image", 5)
    image_ns = f'{SM} xmlns:image="http://www.google.com/schemas/sitemap-image/1.1"'
    s["image sitemap (image:loc is no page)"] = Site(
        {
            "/s.xml": Served(
                _urlset(
                    p,
                    image_ns,
                    lambda u: f"<image:image><image:loc>{b}/img/{abs(hash(u))}.jpg</image:loc></image:image>",
                )
            )
        },
        p,
        ["/s.xml"],
    )
    p = _pages(b, "video", 5)
    video_ns = f'{SM} xmlns:video="http://www.google.com/schemas/sitemap-video/1.1"'
    s["video sitemap (content/player locs are no pages)"] = Site(
        {
            "/s.xml": Served(
                _urlset(
                    p,
                    video_ns,
                    lambda u: (
                        f"<video:video><video:thumbnail_loc>{b}/img/t.jpg</video:thumbnail_loc>"
                        f"<video:title>v</video:title><video:content_loc>{b}/v/1.mp4</video:content_loc>"
                        f"<video:player_loc>{b}/v/player</video:player_loc></video:video>"
                    ),
                )
            )
        },
        p,
        ["/s.xml"],
    )
    p = _pages(b, "hreflang", 4)
    xhtml_ns = f'{SM} xmlns:xhtml="http://www.w3.org/1999/xhtml"'
    s["hreflang alternates"] = Site(
        {
            "/s.xml": Served(
                _urlset(
                    p,
                    xhtml_ns,
                    lambda u: (
                        f'<xhtml:link rel="alternate" hreflang="de" href="{u}"/>'
                        f'<xhtml:link rel="alternate" hreflang="en" href="{u}"/>'
                    ),
                )
            )
        },
        p,
        ["/s.xml"],
    )
    p = _pages(b, "spaces", 5)
    body = (
        DECL + f"<urlset {SM}>" + "".join(f"<url>\n  <loc>\n\t {u} \n  </loc>\n</url>" for u in p)
    ).encode()
    s["whitespace around locs"] = Site({"/s.xml": Served(body + b"</urlset>")}, p, ["/s.xml"])
    p = [f"{b}/a/query.html?id={i}&amp;lang=en" for i in range(5)]
    s["escaped & in query strings"] = Site(
        {"/s.xml": Served(_urlset(p))}, [u.replace("&amp;", "&") for u in p], ["/s.xml"]
    )
    p = _pages(b, "cdata", 4)
    s["CDATA locs"] = Site({"/s.xml": Served(_urlset([f"<![CDATA[{u}]]>" for u in p]))}, p, ["/s.xml"])
    p = [f"{b}/a/café-{i}.html" for i in range(4)] + [f"{b}/a/%E6%96%B0%E9%97%BB-{i}.html" for i in range(2)]
    s["non-ASCII and percent-encoded paths"] = Site({"/s.xml": Served(_urlset(p))}, p, ["/s.xml"])
    p = _pages(b, "latin1", 4)
    body = _urlset(p, head='<?xml version="1.0" encoding="ISO-8859-1"?>').replace(
        b"<urlset", b"<!-- \xe9 --><urlset"
    )
    s["ISO-8859-1 declared"] = Site({"/s.xml": Served(body)}, p, ["/s.xml"])
    p = _pages(b, "utf16", 4)
    body = _urlset(p, head='<?xml version="1.0" encoding="UTF-16"?>').decode().encode("utf-16")
    s["UTF-16 with BOM"] = Site({"/s.xml": Served(body)}, p, ["/s.xml"])
    p = _pages(b, "rawamp", 4)
    raw = [u + "?a=1&b=2" for u in p]
    s["unescaped & (not well-formed)"] = Site({"/s.xml": Served(_urlset(raw))}, raw, ["/s.xml"])
    p = _pages(b, "dups", 5)
    s["duplicate locs"] = Site({"/s.xml": Served(_urlset(p + p[:3]))}, p, ["/s.xml"])
    p = _pages(b, "relloc", 4)
    s["relative locs"] = Site(
        {"/maps/s.xml": Served(_urlset(["../a/relloc-0.html", "/a/relloc-1.html", *p[2:]]))},
        p,
        ["/maps/s.xml"],
    )
    p = _pages(b, "twolist", 6)
    s["two listings in one source (one fails)"] = Site(
        {"/news.xml": Served(_urlset(p[:3])), "/main.xml": Served(_urlset(p[2:]))},
        p,
        ["/news.xml", "/missing.xml", "/main.xml"],
        damaged=True,
        absent=("/missing.xml",),
    )
    p = _pages(b, "redir", 4)
    s["sitemap behind a redirect"] = Site(
        {
            "/old.xml": Served(b"", headers=[("Location", f"{b}/new.xml")], status=301),
            "/new.xml": Served(_urlset(p)),
        },
        p,
        ["/old.xml"],
    )
    return s


def feed_shapes(b: str) -> dict[str, Site]:
    s: dict[str, Site] = {}
    p = _pages(b, "rss2", 8)
    s["RSS 2.0"] = Site({"/feed.xml": Served(_rss(p), "application/rss+xml")}, p, ["/feed.xml"], "feed")
    p = _pages(b, "guid", 5)
    s["RSS guid isPermaLink, no link"] = Site(
        {"/f.xml": Served(_rss(p, lambda u: f"<title>t</title><guid>{u}</guid>"))}, p, ["/f.xml"], "feed"
    )
    p = _pages(b, "guidfalse", 5)
    s['RSS guid isPermaLink="false" beside link'] = Site(
        {
            "/f.xml": Served(
                _rss(p, lambda u: f'<title>t</title><guid isPermaLink="false">{u}#id</guid><link>{u}</link>')
            )
        },
        p,
        ["/f.xml"],
        "feed",
    )
    p = _pages(b, "rss091", 4)
    s["RSS 0.91"] = Site({"/f.xml": Served(_rss(p, version="0.91"))}, p, ["/f.xml"], "feed")
    p = _pages(b, "rdf", 5)
    items = "".join(f'<item rdf:about="{u}"><title>t</title><link>{u}</link></item>' for u in p)
    body = (
        f'{DECL}<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" xmlns="http://purl.org/rss/1.0/">'
        f'<channel rdf:about="{b}/"><title>N</title><link>{b}/</link></channel>{items}</rdf:RDF>'
    ).encode()
    s["RSS 1.0 (RDF)"] = Site({"/f.rdf": Served(body)}, p, ["/f.rdf"], "feed")
    p = _pages(b, "atom", 6)
    s["Atom"] = Site(
        {"/atom.xml": Served(_atom([_entry(f'<link href="{u}"/>', i) for i, u in enumerate(p)]))},
        p,
        ["/atom.xml"],
        "feed",
    )
    p = _pages(b, "atomrel", 5)
    entries = [
        _entry(
            f'<link rel="enclosure" type="audio/mpeg" href="{b}/v/{i}.mp3"/><link rel="self"/>'
            f'<link rel="replies" type="text/html" href="{u}#comments"/>'
            f'<link rel="alternate" type="application/pdf" href="{b}/v/{i}.pdf"/>'
            f'<link rel="alternate" type="text/html" href="{u}"/>',
            i,
        )
        for i, u in enumerate(p)
    ]
    s["Atom: enclosure, href-less, pdf before the HTML link"] = Site(
        {"/atom.xml": Served(_atom(entries))}, p, ["/atom.xml"], "feed"
    )
    p = _pages(b, "xmlbase", 4)
    entries = [_entry(f'<link href="xmlbase-{i}.html"/>', i) for i in range(4)]
    s["Atom xml:base and relative links"] = Site(
        {"/feeds/atom.xml": Served(_atom(entries, f' xml:base="{b}/a/"'))}, p, ["/feeds/atom.xml"], "feed"
    )
    p = _pages(b, "json", 5)
    body = json.dumps(
        {
            "version": "https://jsonfeed.org/version/1.1",
            "title": "N",
            "items": [
                {"id": str(i), "url": u, "external_url": f"{b}/v/ext-{i}", "content_text": "x"}
                for i, u in enumerate(p)
            ],
        }
    ).encode()
    s["JSON Feed (url, not external_url)"] = Site(
        {"/feed.json": Served(body, "application/feed+json")}, p, ["/feed.json"], "feed"
    )
    p = _pages(b, "cdatalink", 4)
    s["RSS CDATA and whitespace links"] = Site(
        {"/f.xml": Served(_rss(p, lambda u: f"<title>t</title><link>\n  <![CDATA[{u}]]>  \n</link>"))},
        p,
        ["/f.xml"],
        "feed",
    )
    p = _pages(b, "cutfeed", 6)
    s["RSS cut mid-item"] = Site(
        {"/f.xml": Served(_cut_at(_rss(p), b"<item>", 5, inside=30))}, p[:4], ["/f.xml"], "feed", damaged=True
    )
    p = _pages(b, "bomfeed", 4)
    s["RSS with BOM and blank lines"] = Site(
        {"/f.xml": Served(b"\xef\xbb\xbf\n\n" + _rss(p))}, p, ["/f.xml"], "feed"
    )
    p = _pages(b, "entity", 4)
    s["RSS with HTML entities (&nbsp;)"] = Site(
        {
            "/f.xml": Served(
                _rss(
                    p,
                    lambda u: (
                        f"<title>A&nbsp;title &eacute;</title><link>{u}</link>"
                        "<description>&mdash;</description>"
                    ),
                )
            )
        },
        p,
        ["/f.xml"],
        "feed",
    )
    p = _pages(b, "htmltype", 4)
    s["feed served as text/html"] = Site({"/f": Served(_rss(p), "text/html")}, p, ["/f"], "feed")
    p = _pages(b, "feedgz", 4)
    s["feed gzipped, no header"] = Site(
        {"/f.xml": Served(gzip.compress(_rss(p)), "application/octet-stream")}, p, ["/f.xml"], "feed"
    )
    p = _pages(b, "relrss", 4)
    s["RSS relative links"] = Site(
        {"/feeds/f.xml": Served(_rss(["../a/relrss-0.html", "/a/relrss-1.html", *p[2:]]))},
        p,
        ["/feeds/f.xml"],
        "feed",
    )
    p = _pages(b, "nolink", 4)
    body = _rss(p, lambda u: f"<title>t</title><link>{u}</link>").replace(
        b"<item>", b"<item><title>no link at all</title></item><item>", 1
    )
    s["RSS item without a link"] = Site({"/f.xml": Served(body)}, p, ["/f.xml"], "feed", damaged=True)
    p = _pages(b, "feedinsm", 4)
    s["a feed named as a sitemap"] = Site({"/sitemap.xml": Served(_rss(p))}, p, ["/sitemap.xml"], "sitemap")
    return s


def site_shapes(b: str) -> dict[str, Site]:
    """Whole sites for `corpus sources add <base>/`: what discovery must find."""
    home = Served(b"<html><head><title>N</title></head><body><p>News</p></body></html>", "text/html")
    s: dict[str, Site] = {}
    news, main = _pages(b, "robotsnews", 3), _pages(b, "robotsmain", 5)
    s["site: robots.txt with two Sitemap lines"] = Site(
        {
            "/": home,
            "/robots.txt": Served(
                f"User-agent: *\nDisallow:\nSitemap: {b}/news-index.xml\nsitemap: {b}/main.xml\n".encode(),
                "text/plain",
            ),
            "/news-index.xml": Served(_index([f"{b}/news-1.xml"])),
            "/news-1.xml": Served(_urlset(news)),
            "/main.xml": Served(_urlset(main)),
        },
        news + main,
        discover=True,
    )
    p = _pages(b, "yoast", 6)
    s["site: /sitemap_index.xml only (Yoast)"] = Site(
        {
            "/": home,
            "/sitemap_index.xml": Served(_index([f"{b}/post-sitemap.xml", f"{b}/page-sitemap.xml"])),
            "/post-sitemap.xml": Served(_urlset(p[:4])),
            "/page-sitemap.xml": Served(_urlset(p[4:])),
        },
        p,
        discover=True,
    )
    p = _pages(b, "wp", 5)
    s["site: /wp-sitemap.xml only (WordPress)"] = Site(
        {
            "/": home,
            "/wp-sitemap.xml": Served(_index([f"{b}/wp-sitemap-posts-post-1.xml"])),
            "/wp-sitemap-posts-post-1.xml": Served(_urlset(p)),
        },
        p,
        discover=True,
    )
    feed, smap = _pages(b, "linkatom", 3), _pages(b, "linkatomsm", 4)
    page = (
        f'<html><head><link rel="alternate" type="application/atom+xml" href="{b}/atom"></head>'
        "<body>x</body></html>"
    )
    s["site: linked Atom feed and /sitemap.xml"] = Site(
        {
            "/": Served(page.encode(), "text/html"),
            "/atom": Served(_atom([_entry(f'<link href="{u}"/>', i) for i, u in enumerate(feed)])),
            "/sitemap.xml": Served(_urlset(smap)),
        },
        feed + smap,
        discover=True,
    )
    p = _pages(b, "wpfeed", 4)
    s["site: /feed redirecting to /feed/"] = Site(
        {
            "/": home,
            "/feed": Served(b"", headers=[("Location", f"{b}/feed/")], status=301),
            "/feed/": Served(_rss(p), "application/rss+xml"),
        },
        p,
        discover=True,
    )
    p = _pages(b, "txtsite", 4)
    s["site: /sitemap.txt only"] = Site(
        {"/": home, "/sitemap.txt": Served("\n".join(p).encode(), "text/plain")}, p, discover=True
    )
    p = _pages(b, "robotsgz", 4)
    s["site: robots.txt names a gzipped sitemap"] = Site(
        {
            "/": home,
            "/robots.txt": Served(f"Sitemap: {b}/maps/all.xml.gz\n".encode(), "text/plain"),
            "/maps/all.xml.gz": Served(gzip.compress(_urlset(p)), "application/gzip"),
        },
        p,
        discover=True,
    )
    news, main = _pages(b, "newsmap", 3), _pages(b, "mainmap", 3)
    s["site: /news-sitemap.xml and /sitemap.xml"] = Site(
        {
            "/": home,
            "/sitemap.xml": Served(_urlset(main)),
            "/news-sitemap.xml": Served(_urlset(news)),
        },
        news + main,
        discover=True,
    )
    p = _pages(b, "anchorrss", 4)
    page = '<html><body><a href="/rss.xml">RSS</a> <a href="/about">About</a></body></html>'
    s["site: feed linked by <a> only"] = Site(
        {"/": Served(page.encode(), "text/html"), "/rss.xml": Served(_rss(p))}, p, discover=True
    )
    p = _pages(b, "homeblocked", 4)
    s["site: home page 403, robots.txt sitemap"] = Site(
        {
            "/": Served(b"forbidden", "text/html", status=403),
            "/robots.txt": Served(f"Sitemap: {b}/s.xml\n".encode(), "text/plain"),
            "/s.xml": Served(_urlset(p)),
        },
        p,
        discover=True,
    )
    return s


ALL = (sitemap_shapes, feed_shapes, site_shapes)


# ---- serving


@dataclass
class ShapeServer:
    """One shape's site on 127.0.0.1: its files, article pages for any /a/ path, 404 for the rest; the
    requests recorded while `recording`."""

    make: Callable[[str], Site] | None = None
    site: Site | None = None
    requests: list[str] = field(default_factory=list)
    recording: bool = False

    def start(self, build: Callable[[str], Site]) -> str:
        server = _QuietServer(("127.0.0.1", 0), _handler(self))
        server.daemon_threads = True
        self.server = server
        self.base = f"http://127.0.0.1:{server.server_address[1]}"
        self.site = build(self.base)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        return self.base

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class _QuietServer(ThreadingHTTPServer):
    def handle_error(self, request: object, client_address: object) -> None:
        pass  # a client closing its connection early (a crawler that has what it needs)


def _handler(owner: ShapeServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: object) -> None:
            pass

        def do_GET(self) -> None:
            if owner.recording:
                owner.requests.append(self.path)
            path = self.path.split("?", 1)[0]
            assert owner.site is not None
            served = owner.site.files.get(path)
            if served is None and path.startswith("/a/"):
                url = owner.base + self.path
                seed = zlib.crc32(unquote(self.path).encode())
                served = Served(news_page(make_article(seed), url).encode(), "text/html; charset=utf-8")
            if served is None:
                served = Served(b"not found", "text/plain", status=404)
            self.send_response(served.status)
            self.send_header("Content-Type", served.content_type)
            self.send_header("Content-Length", str(len(served.body)))
            for name, value in served.headers:
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(served.body)

    return Handler


# ---- measuring


@dataclass
class Measured:
    shape: str
    expected: int
    fetched: int
    correct: int
    damage_rows: int
    damaged: bool

    @property
    def recall(self) -> float:
        return self.correct / self.expected if self.expected else 1.0

    @property
    def precision(self) -> float:
        return self.correct / self.fetched if self.fetched else 1.0


def _key(url_or_path: str) -> str:
    """A page as compared: path and query, percent-decoded (the crawler sends IRIs percent-encoded)."""
    parts = urlsplit(url_or_path)
    return unquote(parts.path) + ("?" + unquote(parts.query) if parts.query else "")


def source_name(shape: str) -> str:
    return "shape-" + "".join(c if c.isalnum() else "-" for c in shape.lower()).strip("-")[:60]


def measure(name: str, server: ShapeServer, damage_rows: int) -> Measured:
    assert server.site is not None
    site = server.site
    fetched = {
        _key(p)
        for p in server.requests
        if p.split("?", 1)[0] not in site.files and p not in site.absent and p != "/robots.txt"
    }
    expected = {_key(u) for u in site.expected}
    return Measured(name, len(expected), len(fetched), len(fetched & expected), damage_rows, site.damaged)


def table(results: list[Measured]) -> str:
    lines = [
        f"{'shape':58} {'labelled':>8} {'fetched':>7} {'recall':>6} {'precision':>9} {'damage rows':>11}"
    ]
    for r in results:
        lines.append(
            f"{r.shape[:58]:58} {r.expected:>8} {r.fetched:>7} {r.recall:>6.2f} {r.precision:>9.2f} "
            f"{r.damage_rows:>11}"
        )
    expected = sum(r.expected for r in results)
    fetched = sum(r.fetched for r in results)
    correct = sum(r.correct for r in results)
    lines.append(
        f"{'ALL (' + str(len(results)) + ' shapes)':58} {expected:>8} {fetched:>7} "
        f"{correct / expected:>6.3f} {correct / max(fetched, 1):>9.3f}"
    )
    return "\n".join(lines)


def totals(results: list[Measured]) -> tuple[float, float]:
    correct = sum(r.correct for r in results)
    return correct / sum(r.expected for r in results), correct / max(sum(r.fetched for r in results), 1)


def run_shapes(folder: Path, add_source: Callable[[Path, str, str], None]) -> list[Measured]:
    """Serve every shape, write the config (listing shapes directly, site shapes with `add_source(config,
    base_url, name)`, i.e. `corpus sources add`), ingest it, and measure each shape."""
    import duckdb

    from flows.ingest import ingest

    servers: dict[str, ShapeServer] = {}
    config = folder / "shapes.toml"
    config.write_text(f'[warehouse]\npath = "{folder / "wh"}"\n')
    try:
        for family in ALL:
            for name in family("http://placeholder"):
                server = ShapeServer()
                server.start(lambda base, family=family, name=name: family(base)[name])
                servers[name] = server
        tables = []
        for name, server in servers.items():
            assert server.site is not None
            if server.site.discover:
                continue
            urls = [server.base + u for u in server.site.listings]
            url = json.dumps(urls[0] if len(urls) == 1 else urls)
            tables.append(
                f'[[sources]]\nname = "{source_name(name)}"\nkind = "{server.site.kind}"\nurl = {url}\n'
                "allow_private = true\n"
            )
        with config.open("a") as out:
            out.write("\n" + "\n".join(tables))
        sites = [(name, s) for name, s in servers.items() if s.site is not None and s.site.discover]
        with ThreadPoolExecutor(4) as pool:  # each into a config of its own, then gathered into the one
            added = list(
                pool.map(
                    lambda item: _added(folder, item[1].base + "/", source_name(item[0]), add_source), sites
                )
            )
        with config.open("a") as out:
            out.write("\n" + "\n".join(added))
        # no pause between requests (one server per shape, all on 127.0.0.1)
        config.write_text(
            config.read_text().replace("allow_private = true\n", "allow_private = true\ndelay = 0\n")
        )
        for server in servers.values():
            server.recording = True
        summary = ingest(str(config))
        with duckdb.connect(str(summary.catalog), read_only=True) as con:
            rows = dict(
                con.sql(
                    "select source, count(*) from rejects "
                    "where reason in ('bad_sitemap', 'bad_feed', 'bad_url') group by source"
                ).fetchall()
            )
        return [measure(name, s, rows.get(source_name(name), 0)) for name, s in servers.items()]
    finally:
        for server in servers.values():
            server.stop()


def _added(folder: Path, url: str, name: str, add_source: Callable[[Path, str, str], None]) -> str:
    """The source table `add_source` (`corpus sources add`) appends for `url`, as TOML text."""
    own = folder / f"add-{name}.toml"
    own.write_text("# sources added\n")
    add_source(own, url, name)
    return own.read_text().removeprefix("# sources added\n")


def _add_with_cli(config: Path, url: str, name: str) -> None:
    import subprocess

    corpus = Path(sys.executable).with_name("corpus")
    done = subprocess.run(
        [str(corpus), "sources", "add", url, "-c", str(config), "--allow-private", "--name", name],
        capture_output=True,
        text=True,
        timeout=120,
    )
    if done.returncode != 0:
        raise RuntimeError(f"sources add {url}: {done.stderr.strip()}")


if __name__ == "__main__":
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        results = run_shapes(Path(tmp), _add_with_cli)
    print(table(results))
