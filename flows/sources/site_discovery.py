"""Find every listing a site offers for its articles, for `corpus sources add`:

- the URL given, when it is itself a feed or a sitemap (then nothing else is probed);
- feeds the page links to (trafilatura's feed discovery: `<link rel="alternate">`, else feed-like links;
  comment feeds left out), at most MAX_FEEDS_CHECKED of them;
- every `Sitemap:` line of the site's robots.txt;
- the usual places: WELL_KNOWN_SITEMAPS and WELL_KNOWN_FEEDS at the site's root.

Every candidate is fetched (politely: robots.txt rules, a pace per host) and read with the ingest's own
readers (listing.read_listing), so what is reported is what an ingest will read. A listing is kept once:
the same final URL or the same bytes under two names count once, and a sitemap that an index found here
names already is read through that index.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Literal
from urllib.parse import urljoin, urlsplit

from protego import Protego

from flows.config import MAX_LISTING_BYTES, FeedSource
from flows.errors import SourceError
from flows.fetch.fetcher import Failure, Fetcher, Response
from flows.sources.listing import FEED_KINDS, Read, listing_key, read_listing

# Feeds a home page links to that are fetched: sites link a few (all news, one per section).
MAX_FEEDS_CHECKED = 6
# Paths where sites (and their CMSs: WordPress, Yoast, Drupal, Hugo, Ghost...) put listings without
# always naming them in robots.txt.
WELL_KNOWN_SITEMAPS = (
    "/sitemap.xml",
    "/sitemap_index.xml",
    "/sitemap-index.xml",
    "/wp-sitemap.xml",
    "/sitemap.xml.gz",
    "/sitemap_news.xml",
    "/sitemap-news.xml",
    "/news-sitemap.xml",
    "/sitemap.txt",
)
WELL_KNOWN_FEEDS = ("/feed", "/rss", "/rss.xml", "/feed.xml", "/atom.xml", "/index.xml", "/feed.json")

Kind = Literal["feed", "sitemap"]


@dataclass(frozen=True)
class Candidate:
    kind: Kind  # what it turned out to be, whatever it was looked for as
    url: str
    entries: int  # articles listed (a sitemap index: child sitemaps)
    size: int  # bytes as fetched
    note: str = ""  # "sitemap index", "plain text", damage...
    found_by: str = ""  # "the URL given", "robots.txt", "linked from the page", "usual path"


@dataclass
class SiteListings:
    url: str
    found: list[Candidate] = field(default_factory=list)  # in the order found
    problems: list[str] = field(default_factory=list)  # candidates that did not work, and why
    tried: int = 0  # URLs fetched looking

    def listings(self, kind: Kind | None = None) -> list[Candidate]:
        """What a source made from this should read: sitemaps first (they list the whole site), then the
        feeds (the newest articles, with dates); only `kind` when given."""
        chosen = [c for c in self.found if kind is None or c.kind == kind]
        return sorted(chosen, key=lambda c: c.kind != "sitemap")


async def find_listings(
    url: str, *, allow_private: bool = False, user_agent: str | None = None
) -> SiteListings:
    """Fetch `url` and probe the site for feeds and sitemaps. Raises SourceError when the host may not be
    fetched (a private address without allow_private), or when the page cannot be fetched and nothing
    else was found either."""
    settings = {"allow_private": allow_private, **({"user_agent": user_agent} if user_agent else {})}
    probe = FeedSource(name="discovery", kind="feed", url=url, delay=0.2, retries=1, timeout=20, **settings)
    found = SiteListings(url)
    seen = _Seen()
    async with Fetcher(probe) as fetcher:  # its own pace and robots.txt rules, gone with it
        page = await _get(fetcher, url, found)
        if isinstance(page, Failure):
            if page.reason == "blocked_address":
                raise SourceError(f"{url}: {page.reason}: {page.detail}", reason=page.reason)
            found.problems.append(f"{url}: {page.reason}: {page.detail}")
        elif not _looks_like_html(page.body):
            _record(page, url, "feed", "the URL given", found, seen, quiet=True)
            if found.found:
                return found
        feeds = _feed_links(page, url)[:MAX_FEEDS_CHECKED] if isinstance(page, Response) else []
        origin = "{0.scheme}://{0.netloc}".format(urlsplit(url))
        for feed_url in feeds:
            await _probe(fetcher, feed_url, "feed", "linked from the page", found, seen)
        for sitemap_url in await _robots_sitemaps(fetcher, origin, found):
            await _probe(fetcher, sitemap_url, "sitemap", "robots.txt", found, seen)
        for path in WELL_KNOWN_SITEMAPS:
            await _probe(fetcher, origin + path, "sitemap", "usual path", found, seen, quiet=True)
        for path in WELL_KNOWN_FEEDS:
            await _probe(fetcher, origin + path, "feed", "usual path", found, seen, quiet=True)
    found.found = _through_indexes(found.found, seen.children)
    if not found.found and isinstance(page, Failure):
        raise SourceError(f"{url}: {page.reason}: {page.detail}", reason=page.reason)
    return found


@dataclass
class _Seen:
    """Listings read already: by URL (asked for and landed on), by content, and the sitemaps that an index
    found names (read through it, not on their own)."""

    urls: set[str] = field(default_factory=set)
    digests: set[str] = field(default_factory=set)
    children: dict[str, set[str]] = field(default_factory=dict)  # an index's key: the sitemaps it names


def _through_indexes(found: list[Candidate], children: dict[str, set[str]]) -> list[Candidate]:
    """The candidates less the sitemaps that a kept index names (an index naming itself stays)."""
    named: set[str] = set()
    dropped: set[str] = set()
    for candidate in sorted(found, key=lambda c: listing_key(c.url) not in children):  # indexes first
        key = listing_key(candidate.url)
        if key in named:
            dropped.add(key)
            continue
        named |= children.get(key, set()) - {key}
    return [c for c in found if listing_key(c.url) not in dropped]


async def _get(
    fetcher: Fetcher, url: str, found: SiteListings, check_robots: bool = True
) -> Response | Failure:
    found.tried += 1
    return await fetcher.get(url, check_robots=check_robots, html_only=False, max_bytes=MAX_LISTING_BYTES)


def _looks_like_html(body: bytes) -> bool:
    head = body[:1024].lstrip().lower()
    return head.startswith((b"<!doctype html", b"<html")) or b"<html" in head[:300]


def _feed_links(page: Response, url: str) -> list[str]:
    from trafilatura.feeds import FeedParameters, determine_feed

    parts = urlsplit(page.url)
    base = f"{parts.scheme}://{parts.netloc}"
    html = page.body.decode("utf-8", errors="replace")
    return determine_feed(html, FeedParameters(base, parts.hostname or "", url))


async def _robots_sitemaps(fetcher: Fetcher, origin: str, found: SiteListings) -> list[str]:
    """Every `Sitemap:` line of the site's robots.txt, in its order."""
    outcome = await _get(fetcher, f"{origin}/robots.txt", found, check_robots=False)
    if not isinstance(outcome, Response) or outcome.status != 200:
        return []
    rules = Protego.parse(outcome.body.decode("utf-8", errors="replace"))
    return list(dict.fromkeys(urljoin(origin + "/", s.strip()) for s in rules.sitemaps))


async def _probe(
    fetcher: Fetcher,
    url: str,
    kind: Kind,
    found_by: str,
    found: SiteListings,
    seen: _Seen,
    quiet: bool = False,
) -> None:
    """Fetch and read one candidate; `quiet` for a guess (a usual path) whose absence is no problem."""
    if listing_key(url) in seen.urls:
        return
    seen.urls.add(listing_key(url))
    outcome = await _get(fetcher, url, found)
    if isinstance(outcome, Failure):
        if not quiet:
            found.problems.append(f"{kind} {url}: {outcome.reason}")
        return
    _record(outcome, url, kind, found_by, found, seen, quiet)


def _record(
    response: Response, url: str, kind: Kind, found_by: str, found: SiteListings, seen: _Seen, quiet: bool
) -> None:
    landed = listing_key(response.url)
    digest = hashlib.sha256(response.body).hexdigest()
    if digest in seen.digests or (landed != listing_key(url) and landed in seen.urls):
        return  # the same listing under another name (/feed redirecting to /feed/, a copy)
    seen.urls.add(landed)
    try:
        read = read_listing(response.body, url, kind)
    except SourceError as exc:
        if not quiet:
            found.problems.append(str(exc))
        return
    if not read.entries:
        if not quiet:
            found.problems.append(f"{kind} {url}: no entries")
        return
    seen.digests.add(digest)
    is_feed = read.kind in FEED_KINDS
    found.found.append(
        Candidate(
            "feed" if is_feed else "sitemap",
            url,
            len(read.entries),
            len(response.body),
            _note(read),
            found_by,
        )
    )
    if read.kind == "sitemapindex":
        seen.children[listing_key(url)] = {listing_key(e.url) for e in read.entries}


def _note(read: Read) -> str:
    notes = {"sitemapindex": "sitemap index", "text": "plain text"}
    parts = [notes[read.kind]] if read.kind in notes else []
    if read.damage:
        parts.append(f"damaged: {read.damage}")
    return ", ".join(parts)
