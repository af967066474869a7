"""What a web source lists: the entries (page URL, date when known) of a feed, a sitemap or a URL list,
filtered by the source's include/exclude/since/max_items. A listing that cannot be read at all is a
SourceError; one bad child sitemap of an index is a reject and the rest of the index still counts; an
entry whose URL cannot be fetched (fetch/safety.py url_problem: a malformed link, another scheme, a feed
item without a link) is a `bad_url` reject of its own and the other entries go on."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urljoin

from lxml import etree

from flows.config import (
    MAX_LISTING_BYTES,
    MAX_SITEMAP_DEPTH,
    MAX_SITEMAPS,
    MAX_URL_CHARS,
    Config,
    FeedSource,
    SitemapSource,
    UrlsSource,
    WebSource,
)
from flows.errors import SourceError
from flows.fetch.decoding import BadEncoding, TooLarge, inflate
from flows.fetch.fetcher import Failure, Fetcher
from flows.fetch.safety import url_problem
from flows.records import RejectRow, reject_row

_XML_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=False, recover=False)


@dataclass(frozen=True)
class Entry:
    url: str
    date: datetime | None = None
    problem: str | None = None  # why it cannot be fetched, found while reading the listing (a bad_url)
    origin: str | None = field(default=None, compare=False)  # where it was listed: listing URL, file:line


@dataclass
class Listing:
    entries: list[Entry]
    rejects: list[RejectRow]  # listing parts that could not be read (a child sitemap)


async def list_entries(source: WebSource, config: Config, fetcher: Fetcher) -> Listing:
    if isinstance(source, FeedSource):
        listing = Listing(await _feed(source.url, fetcher), [])
    elif isinstance(source, SitemapSource):
        listing = Listing([], [])
        await _sitemap(source.url, fetcher, listing, depth=0, budget=[MAX_SITEMAPS])
    elif isinstance(source, UrlsSource):
        listing = Listing(_url_list(source, config), [])
    else:  # pragma: no cover
        raise TypeError(source)
    good = []
    for entry in listing.entries:
        problem = entry.problem or url_problem(entry.url)
        if problem is None:
            good.append(entry)
        else:
            where = entry.origin or listed_in(source)
            listing.rejects.append(reject_row(entry.url[:MAX_URL_CHARS], "bad_url", problem, where))
    listing.entries = select(good, source)
    return listing


def listed_in(source: WebSource) -> str:
    """The listing that named a source's pages: the `origin` of a page that could not be fetched."""
    if isinstance(source, UrlsSource):
        return source.file or "urls"
    assert isinstance(source, FeedSource | SitemapSource)
    return source.url


def _join(base: str, link: str, date: datetime | None = None) -> Entry:
    """A link of a listing made absolute against the listing's URL; a link that cannot be joined is an
    entry with its problem (a bad_url reject), not an exception."""
    try:
        return Entry(urljoin(base, link.strip()), date, origin=base)
    except ValueError as exc:
        return Entry(link.strip(), date, f"not a URL: {exc}", base)


def select(entries: list[Entry], source: WebSource) -> list[Entry]:
    """include/exclude regexes, since, duplicates dropped, then max_items (newest first when dated)."""
    include = [re.compile(p) for p in source.include]
    exclude = [re.compile(p) for p in source.exclude]
    cutoff = datetime.now(UTC) - source.since_delta if source.since_delta else None
    chosen: dict[str, Entry] = {}
    for entry in entries:
        if entry.url in chosen:
            continue
        if include and not any(p.search(entry.url) for p in include):
            continue
        if any(p.search(entry.url) for p in exclude):
            continue
        if cutoff is not None and entry.date is not None and entry.date < cutoff:
            continue
        chosen[entry.url] = entry
    result = list(chosen.values())
    if source.max_items is not None and len(result) > source.max_items:
        if any(e.date for e in result):
            oldest = datetime.min.replace(tzinfo=UTC)
            result.sort(key=lambda e: e.date or oldest, reverse=True)
        result = result[: source.max_items]
    return result


# ---- URL lists


def _url_list(source: UrlsSource, config: Config) -> list[Entry]:
    """The source's URLs; from a file, each line's (a line that is no URL is a bad_url reject naming the
    file and line, and the other lines go on)."""
    if source.urls:
        return [Entry(url) for url in source.urls]
    assert source.file is not None
    path = Path(config.resolve(source.file))
    try:
        lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError as exc:
        raise SourceError(f"source {source.name!r}: cannot read URL file {path}: {exc.strerror}") from None
    entries = []
    for number, line in enumerate(lines, 1):
        line = line.split("#", 1)[0].strip()
        if line:
            entries.append(Entry(line, origin=f"{path}:{number}"))
    return entries


# ---- feeds


async def _fetch_listing(url: str, fetcher: Fetcher, what: str) -> bytes:
    outcome = await fetcher.get(url, check_robots=False, html_only=False, max_bytes=MAX_LISTING_BYTES)
    if isinstance(outcome, Failure):
        raise SourceError(f"{what} {url}: {outcome.reason}: {outcome.detail}")
    return outcome.body


async def _feed(url: str, fetcher: Fetcher) -> list[Entry]:
    body = await _fetch_listing(url, fetcher, "feed")
    return parse_feed(body, url)


def parse_feed(body: bytes, url: str) -> list[Entry]:
    """RSS, Atom (feedparser) or JSON Feed entries; SourceError when the body is none of these."""
    if body.lstrip()[:1] == b"{":
        return _json_feed(body, url)
    import feedparser

    try:
        parsed = feedparser.parse(body, response_headers={"content-location": url})
    except Exception as exc:  # feedparser's loose parser has crashed on malformed markup
        raise SourceError(f"feed {url}: not a valid feed: {type(exc).__name__}: {exc}"[:300]) from None
    if not parsed.entries and (parsed.get("bozo") or not parsed.get("version")):
        problem = parsed.get("bozo_exception") or "no RSS/Atom/JSON feed structure"
        raise SourceError(f"feed {url}: not a valid feed: {str(problem).strip()[:200]}")
    entries = []
    for number, item in enumerate(parsed.entries, 1):
        link = item.get("link") or next(
            (lk.get("href") for lk in item.get("links", []) if lk.get("rel") == "alternate"), None
        )
        stamp = item.get("published_parsed") or item.get("updated_parsed")
        date = datetime(*stamp[:6]).replace(tzinfo=UTC) if stamp else None
        if not link:  # none, or one the feed parser could not join (feedparser blanks it): a row says so
            name = item.get("id") or f"{url}#item-{number}"
            title = " ".join(str(item.get("title") or "").split())[:120]
            entries.append(Entry(str(name), date, f"feed item {number} ({title!r}) has no usable link", url))
            continue
        entries.append(_join(url, link, date))
    return entries


def _json_feed(body: bytes, url: str) -> list[Entry]:
    try:
        feed = json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise SourceError(f"feed {url}: not a valid JSON feed: {exc}") from None
    if not isinstance(feed, dict) or not isinstance(feed.get("items"), list):
        raise SourceError(f"feed {url}: not a valid JSON feed: no 'items' list")
    entries = []
    for item in feed["items"]:
        if not isinstance(item, dict):
            continue
        link = item.get("url") or item.get("external_url")
        date = _iso_date(item.get("date_published") or item.get("date_modified"))
        if isinstance(link, str) and link:
            entries.append(_join(url, link, date))
        else:
            name = item.get("id") if isinstance(item.get("id"), str) else None
            entries.append(
                Entry(name or f"{url}#item-{len(entries) + 1}", date, "JSON feed item without url", url)
            )
    return entries


def _iso_date(value: object) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


# ---- sitemaps


async def _sitemap(url: str, fetcher: Fetcher, listing: Listing, depth: int, budget: list[int]) -> None:
    budget[0] -= 1
    try:
        if budget[0] < 0:
            raise SourceError(f"sitemap {url}: skipped, more than {MAX_SITEMAPS} sitemaps in one source")
        body = await _fetch_listing(url, fetcher, "sitemap")
        kind, items = parse_sitemap(body, url)
    except SourceError as exc:
        if depth == 0:
            raise
        listing.rejects.append(reject_row(url, "bad_sitemap", str(exc)))
        return
    if kind == "urlset":
        listing.entries += items
        return
    if depth >= MAX_SITEMAP_DEPTH:
        listing.rejects.append(
            reject_row(url, "bad_sitemap", f"sitemap index nested deeper than {MAX_SITEMAP_DEPTH}")
        )
        return
    for child in items:
        await _sitemap(child.url, fetcher, listing, depth + 1, budget)


def parse_sitemap(body: bytes, url: str) -> tuple[str, list[Entry]]:
    """('urlset', page entries) or ('sitemapindex', child sitemap entries)."""
    if body[:2] == b"\x1f\x8b":
        try:
            body = inflate(body, MAX_LISTING_BYTES)
        except TooLarge:
            raise SourceError(f"sitemap {url}: more than {MAX_LISTING_BYTES} bytes uncompressed") from None
        except BadEncoding as exc:
            raise SourceError(f"sitemap {url}: bad gzip data: {exc}") from None
    try:
        root = etree.fromstring(body, _XML_PARSER)
    except etree.XMLSyntaxError as exc:
        raise SourceError(f"sitemap {url}: bad XML: {exc}") from None
    kind = etree.QName(root).localname
    if kind not in ("urlset", "sitemapindex"):
        raise SourceError(f"sitemap {url}: root element <{kind}> is not <urlset> or <sitemapindex>")
    entries = []
    for item in root:
        if not isinstance(item.tag, str):
            continue
        loc, date = None, None
        for part in item.iter():
            if not isinstance(part.tag, str):
                continue
            name = etree.QName(part).localname
            text = (part.text or "").strip()
            if name == "loc" and loc is None:
                loc = text
            elif name == "publication_date" and text:  # Google News sitemaps: the article's own date
                date = _iso_date(text) or date
            elif name == "lastmod" and text and date is None:
                date = _iso_date(text)
        if loc:
            entries.append(_join(url, loc, date))
    return kind, entries
