"""Find what a site offers to list its articles: feeds (trafilatura's feed discovery on the page) and
sitemaps (robots.txt `Sitemap:` lines, then /sitemap.xml). Every candidate is fetched and parsed, so a
source made from the result is known to work. Used by `corpus sources add`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal
from urllib.parse import urljoin, urlsplit

from protego import Protego

from flows.config import MAX_LISTING_BYTES, FeedSource
from flows.errors import SourceError
from flows.fetch.fetcher import Failure, Fetcher, Response
from flows.sources.listing import parse_feed, parse_sitemap

# Feeds a home page links to that are fetched and compared: sites link a few (all news, one per section).
MAX_FEEDS_CHECKED = 6


@dataclass(frozen=True)
class Candidate:
    kind: Literal["feed", "sitemap"]
    url: str
    entries: int  # articles listed (a sitemap index: child sitemaps)
    note: str = ""


@dataclass
class SiteListings:
    url: str
    feeds: list[Candidate] = field(default_factory=list)
    sitemaps: list[Candidate] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)  # candidates that did not work, and why

    def best(self, kind: str | None = None) -> Candidate | None:
        """The feed listing the most entries, else the first working sitemap (robots.txt's come first)."""
        feeds = sorted(self.feeds, key=lambda c: -c.entries)
        ordered = {"feed": feeds, "sitemap": self.sitemaps, None: feeds + self.sitemaps}[kind]
        return next(iter(ordered), None)


async def find_listings(
    url: str, *, allow_private: bool = False, user_agent: str | None = None
) -> SiteListings:
    """Fetch `url` and probe the site for feeds and sitemaps. Raises SourceError when the page itself
    cannot be fetched."""
    settings = {"allow_private": allow_private, **({"user_agent": user_agent} if user_agent else {})}
    probe = FeedSource(name="discovery", kind="feed", url=url, delay=0.2, retries=1, timeout=20, **settings)
    found = SiteListings(url)
    async with Fetcher(probe) as fetcher:  # its own pace and robots.txt rules, gone with it
        page = await _get(fetcher, url)
        if isinstance(page, Failure):
            raise SourceError(f"{url}: {page.reason}: {page.detail}", reason=page.reason)
        if not await _as_listing(page.body, url, found):
            for feed_url in _feed_links(page, url)[:MAX_FEEDS_CHECKED]:
                await _probe(fetcher, feed_url, "feed", found)
            for sitemap_url in await _sitemap_links(fetcher, url):
                await _probe(fetcher, sitemap_url, "sitemap", found)
    return found


async def _get(fetcher: Fetcher, url: str, check_robots: bool = True) -> Response | Failure:
    return await fetcher.get(url, check_robots=check_robots, html_only=False, max_bytes=MAX_LISTING_BYTES)


async def _as_listing(body: bytes, url: str, found: SiteListings) -> bool:
    """The URL given may itself be a feed or a sitemap."""
    head = body.lstrip()[:400].lower()
    if b"<rss" in head or b"<feed" in head or b"<rdf" in head or head.startswith(b"{"):
        return _record(body, url, "feed", found)
    if b"<urlset" in head or b"<sitemapindex" in head or body[:2] == b"\x1f\x8b":
        return _record(body, url, "sitemap", found)
    return False


def _feed_links(page: Response, url: str) -> list[str]:
    from trafilatura.feeds import FeedParameters, determine_feed

    parts = urlsplit(page.url)
    base = f"{parts.scheme}://{parts.netloc}"
    html = page.body.decode("utf-8", errors="replace")
    return determine_feed(html, FeedParameters(base, parts.hostname or "", url))


async def _sitemap_links(fetcher: Fetcher, url: str) -> list[str]:
    origin = "{0.scheme}://{0.netloc}".format(urlsplit(url))
    declared: list[str] = []
    outcome = await _get(fetcher, f"{origin}/robots.txt", check_robots=False)
    if isinstance(outcome, Response) and outcome.status == 200:
        rules = Protego.parse(outcome.body.decode("utf-8", errors="replace"))
        declared = [urljoin(origin, s.strip()) for s in rules.sitemaps]
    fallback = f"{origin}/sitemap.xml"
    return list(dict.fromkeys([*declared, fallback]))


async def _probe(fetcher: Fetcher, url: str, kind: Literal["feed", "sitemap"], found: SiteListings) -> None:
    outcome = await _get(fetcher, url)
    if isinstance(outcome, Failure):
        found.problems.append(f"{kind} {url}: {outcome.reason}")
        return
    _record(outcome.body, url, kind, found)


def _record(body: bytes, url: str, kind: Literal["feed", "sitemap"], found: SiteListings) -> bool:
    try:
        if kind == "feed":
            entries = parse_feed(body, url)
            if entries:
                found.feeds.append(Candidate("feed", url, len(entries)))
                return True
            found.problems.append(f"feed {url}: no entries")
            return False
        root, entries = parse_sitemap(body, url)
    except SourceError as exc:
        found.problems.append(str(exc))
        return False
    if not entries:
        found.problems.append(f"sitemap {url}: no entries")
        return False
    note = "sitemap index" if root == "sitemapindex" else ""
    found.sitemaps.append(Candidate("sitemap", url, len(entries), note))
    return True
