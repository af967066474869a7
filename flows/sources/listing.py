"""What a web source lists: the entries (page URL, date when known) of a feed, a sitemap or a URL list,
filtered by the source's include/exclude/since/max_items. A listing that cannot be read at all is a
SourceError; one bad child sitemap of an index is a reject and the rest of the index still counts; an
entry whose URL cannot be fetched (fetch/safety.py url_problem: a malformed link, another scheme, a feed
item without a link) is a `bad_url` reject of its own and the other entries go on."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal
from urllib.parse import urljoin, urlsplit, urlunsplit

from lxml import etree

from flows.config import (
    MAX_LISTED_URLS,
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
    if isinstance(source, FeedSource | SitemapSource):
        listing = Listing([], [])
        walk = _Walk()
        expect: Expect = "feed" if isinstance(source, FeedSource) else "sitemap"
        failures: list[SourceError] = []
        for url in source.listings:  # several listings: one that fails is a row, the others go on
            try:
                await _listing(url, fetcher, listing, expect, depth=0, walk=walk)
            except SourceError as exc:
                if len(source.listings) == 1:
                    raise
                failures.append(exc)
                listing.rejects.append(reject_row(url, f"bad_{expect}", str(exc)))
        if failures and len(failures) == len(source.listings):
            raise failures[0]
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
    return source.listings[0]


def _join(base: str, link: str, date: datetime | None = None) -> Entry:
    """A link of a listing made absolute against the listing's URL; a link that cannot be joined is an
    entry with its problem (a bad_url reject), not an exception."""
    link = link.strip()
    if link[:8].lower().startswith(("http://", "https://")):  # absolute already (nearly every link)
        return Entry(link, date, origin=base)
    try:
        return Entry(urljoin(base, link), date, origin=base)
    except ValueError as exc:
        return Entry(link, date, f"not a URL: {exc}", base)


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


@dataclass
class Read:
    """What one listing document gave: its kind, its entries (each one complete: an entry the document
    cuts off is not one), and where and why it is damaged, when it is (what came before still counts)."""

    kind: str  # rss, rdf, atom, json, urlset, sitemapindex, text
    entries: list[Entry]
    damage: str | None = None


def parse_feed(body: bytes, url: str) -> list[Entry]:
    """A feed's entries (read_feed); SourceError when the body is no feed."""
    return read_feed(body, url).entries


def read_feed(body: bytes, url: str) -> Read:
    """RSS 0.9x/2.0, RSS 1.0 (RDF), Atom or JSON Feed, read as far as it is readable. Links are chosen as
    the standards say: RSS `<link>` (else a `<guid>` that is a permalink), Atom the `rel="alternate"` (or
    rel-less) link of an HTML type (never an enclosure, nor a link without href), JSON Feed `url`;
    relative ones resolved against `xml:base` or the feed's URL. Read in pieces with lxml, items
    discarded as they are read, so a feed of 100,000 items costs its bytes, not a tree of them;
    feedparser's loose parser reads what lxml does not recognise. SourceError when it is no feed."""
    body = _unwrap(body, url, "feed")
    if body[:1] == b"{":
        return Read("json", _json_feed(body, url))
    pull = _Pull(body, url)
    entries: list[Entry] = []
    kind = None
    for event, element in pull.events():
        if kind is None:
            kind = {"rss": "rss", "RDF": "rdf", "feed": "atom"}.get(etree.QName(element).localname, "")
            if not kind:
                break
            continue
        if event != "end" or etree.QName(element).localname not in ("item", "entry"):
            continue
        link, date = _atom_entry(element, url) if kind == "atom" else _rss_item(element, url)
        if link:
            entries.append(_join(element.base or url, link, date))
        else:
            name = _child_text(element, ("id", "guid")) or f"{url}#item-{len(entries) + 1}"
            title = " ".join((_child_text(element, ("title",)) or "").split())[:120]
            problem = f"feed item {len(entries) + 1} ({title!r}) has no usable link"
            entries.append(Entry(name, date, problem, url))
        pull.discard(element)
    if kind:
        if not entries and pull.damage() and not pull.closed:
            raise SourceError(f"feed {url}: not a valid feed: {pull.damage()}")
        return Read(kind, entries, pull.damage())
    return Read("feed", _loose_feed(body, url))


_ATOM = "http://www.w3.org/2005/Atom"


def _rss_item(item: etree._Element, url: str) -> tuple[str | None, datetime | None]:
    link = _child_text(item, ("link",), plain=True)
    if not link:
        guid = next((c for c in item if _local(c) == "guid"), None)
        if guid is not None and (guid.get("isPermaLink") or "true").lower() != "false":
            text = (guid.text or "").strip()
            link = text if "://" in text or text.startswith("/") else None
    if not link:
        link, _ = _atom_entry(item, url)
    return link, _date(_child_text(item, ("pubDate", "date", "published", "updated", "issued", "modified")))


_HTML_TYPES = (None, "", "text/html", "application/xhtml+xml")


def _atom_entry(entry: etree._Element, url: str) -> tuple[str | None, datetime | None]:
    links = [
        (c.get("rel"), (c.get("type") or "").split(";")[0].strip().lower(), (c.get("href") or "").strip())
        for c in entry
        if _local(c) == "link" and c.get("href")
    ]
    alternate = [(kind, href) for rel, kind, href in links if (rel or "alternate") == "alternate" and href]
    chosen = next((href for kind, href in alternate if kind in _HTML_TYPES), None)
    chosen = chosen or next((href for _, href in alternate), None)
    return chosen, _date(_child_text(entry, ("published", "updated", "issued", "modified", "created")))


def _local(element: etree._Element) -> str:
    return etree.QName(element).localname if isinstance(element.tag, str) else ""


def _child_text(element: etree._Element, names: tuple[str, ...], plain: bool = False) -> str | None:
    """The text of the first child with one of these local names (`plain`: not an Atom element, such as
    an `<atom:link>` inside an RSS item, whose text is empty anyway)."""
    for name in names:
        for child in element:
            if _local(child) == name and (not plain or etree.QName(child).namespace != _ATOM):
                text = (child.text or "").strip()
                if text:
                    return text
    return None


def _date(text: str | None) -> datetime | None:
    if not text:
        return None
    from feedparser.datetimes import _parse_date  # RFC 822, ISO 8601 and the forms feeds use in practice

    stamp = _parse_date(text)
    return datetime(*stamp[:6]).replace(tzinfo=UTC) if stamp else None


def _loose_feed(body: bytes, url: str) -> list[Entry]:
    """What feedparser's loose parser reads of a body lxml does not recognise as a feed."""
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
        links = [
            lk for lk in item.get("links", []) if lk.get("href") and lk.get("rel", "alternate") == "alternate"
        ]
        link = next((lk["href"] for lk in links if lk.get("type", "text/html") in _HTML_TYPES), None)
        stamp = item.get("published_parsed") or item.get("updated_parsed")
        date = datetime(*stamp[:6]).replace(tzinfo=UTC) if stamp else None
        link = link or (links[0]["href"] if links else None)
        if not link:  # none, or one the feed parser could not join (feedparser blanks it): a row says so
            name = item.get("id") or f"{url}#item-{number}"
            title = " ".join(str(item.get("title") or "").split())[:120]
            entries.append(Entry(str(name), date, f"feed item {number} ({title!r}) has no usable link", url))
            continue
        entries.append(_join(url, link, date))
    return entries


_PIECE = 1 << 16  # bytes handed to the XML parser at a time


class _Pull:
    """An XML listing read in pieces by lxml in recover mode: every element closed before damage (or
    the end of a document cut off) comes through; what was open then does not. `discard` drops an item
    once read, so memory stays flat however long the listing."""

    def __init__(self, body: bytes, url: str) -> None:
        self.body = body
        self.parser = etree.XMLPullParser(
            events=("start", "end"),
            recover=True,
            resolve_entities=False,
            no_network=True,
            huge_tree=False,
            remove_comments=True,
            remove_pis=True,
            base_url=url,
        )
        self.root: etree._Element | None = None
        self.closed = False  # the root element ended: the document is whole
        self.failure: str | None = None

    def events(self) -> Iterator[tuple[str, etree._Element]]:
        try:
            for start in range(0, len(self.body), _PIECE):
                self.parser.feed(self.body[start : start + _PIECE])
                for event, element in self.parser.read_events():
                    if self.root is None:
                        self.root = element
                    elif event == "end" and element is self.root:
                        self.closed = True
                    yield event, element
        except etree.XMLSyntaxError as exc:  # past recovery: what came before stands
            self.failure = " ".join(str(exc).split())[:300]

    def discard(self, element: etree._Element) -> None:
        element.clear(keep_tail=False)
        parent = element.getparent()
        if parent is not None:
            while element.getprevious() is not None:
                del parent[0]

    def damage(self) -> str | None:
        """Where and why the document is damaged (None: it is whole and well-formed)."""
        errors = [e for e in self.parser.error_log if e.level >= etree.ErrorLevels.ERROR]
        if self.failure is None and not errors and self.closed:
            return None
        if self.failure is not None:
            return self.failure
        first = errors[0] if errors else None
        where = f"line {first.line}, column {first.column}: {first.message}" if first else "it ends early"
        return f"damaged at {where}" if self.closed else f"cut off ({where})"


def _unwrap(body: bytes, url: str, what: str) -> bytes:
    """A listing's bytes as markup: gzip inflated (recognised by its magic bytes, whatever the name or the
    headers say; a gzip file cut short gives what it holds), a byte-order mark, blank lines and junk
    before the XML declaration dropped."""
    if body[:2] == b"\x1f\x8b":
        try:
            body = inflate(body, MAX_LISTING_BYTES, partial=True)
        except TooLarge:
            raise SourceError(f"{what} {url}: more than {MAX_LISTING_BYTES} bytes uncompressed") from None
        except BadEncoding as exc:
            raise SourceError(f"{what} {url}: bad gzip data: {exc}") from None
    if body[:2] in (b"\xff\xfe", b"\xfe\xff") or body[:4] in (b"<\x00?\x00", b"\x00<\x00?"):
        body = _utf16_as_utf8(body)
    body = body.removeprefix(b"\xef\xbb\xbf").lstrip()
    declaration = body.find(b"<?xml", 0, 4096)
    if declaration > 0:
        body = body[declaration:]
    if body[:1] == b"<" and b"&" in body:
        body = _BARE_AMPERSAND.sub(b"&amp;", body)  # a URL's `&` left unescaped: the one damage most common
    return body


# An `&` that starts no reference: well-formed XML has none, so replacing them changes nothing else.
_BARE_AMPERSAND = re.compile(rb"&(?!(?:#[0-9]{1,8}|#[xX][0-9a-fA-F]{1,8}|[A-Za-z_][\w.-]{0,40});)")


def _utf16_as_utf8(body: bytes) -> bytes:
    """A UTF-16 listing (told by its byte-order mark or its first characters) in UTF-8, its declaration
    saying so."""
    encoding = (
        "utf-16"
        if body[:2] in (b"\xff\xfe", b"\xfe\xff")
        else "utf-16-le"
        if body[1:2] == b"\x00"
        else "utf-16-be"
    )
    text = body.decode(encoding, errors="replace").lstrip("\ufeff")
    text = re.sub(r"""^(\s*<\?xml[^>]*?encoding\s*=\s*["'])[^"']*""", r"\g<1>UTF-8", text, count=1)
    return text.encode("utf-8")


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


@dataclass
class _Walk:
    """A sitemap index's walk: the listings already fetched (a listing named twice, or an index that lists
    itself, is fetched once) and what may still be fetched and listed (MAX_SITEMAPS, MAX_LISTED_URLS)."""

    seen: set[str] = field(default_factory=set)
    listings_left: int = MAX_SITEMAPS
    urls_left: int = MAX_LISTED_URLS


async def _listing(
    url: str, fetcher: Fetcher, listing: Listing, expect: Expect, depth: int, walk: _Walk
) -> None:
    """Read one listing into `listing`, following a sitemap index's children. It is read as what it is
    (read_listing): a feed named by a sitemap source, or a sitemap by a feed source, still counts."""
    key = listing_key(url)
    if key in walk.seen:
        return  # named before (an index that lists itself, two indexes naming one child): read once
    walk.seen.add(key)
    walk.listings_left -= 1
    try:
        if walk.listings_left < 0:
            raise SourceError(f"{expect} {url}: skipped, more than {MAX_SITEMAPS} listings in one source")
        if walk.urls_left <= 0:
            raise SourceError(f"{expect} {url}: skipped, more than {MAX_LISTED_URLS} URLs listed already")
        body = await _fetch_listing(url, fetcher, expect)
        read = read_listing(body, url, expect)
    except SourceError as exc:
        if depth == 0:
            raise
        listing.rejects.append(reject_row(url, f"bad_{expect}", str(exc)))
        return
    damage_kind = "bad_feed" if read.kind in FEED_KINDS else "bad_sitemap"
    if read.damage is not None:  # the entries before the damage count; the damage is a row of its own
        listing.rejects.append(
            reject_row(url, damage_kind, f"{read.damage}; {len(read.entries)} entries read before it")
        )
    if read.kind != "sitemapindex":
        listing.entries += read.entries[: max(walk.urls_left, 0)]
        walk.urls_left -= len(read.entries)
        return
    if depth >= MAX_SITEMAP_DEPTH:
        listing.rejects.append(
            reject_row(url, "bad_sitemap", f"sitemap index nested deeper than {MAX_SITEMAP_DEPTH}")
        )
        return
    for child in read.entries:
        if child.problem or url_problem(child.url):
            listing.rejects.append(
                reject_row(
                    child.url[:MAX_URL_CHARS], "bad_url", child.problem or url_problem(child.url) or "", url
                )
            )
            continue
        await _listing(child.url, fetcher, listing, "sitemap", depth + 1, walk)


Expect = Literal["feed", "sitemap"]
FEED_KINDS = ("rss", "rdf", "atom", "json", "feed")


def read_listing(body: bytes, url: str, expect: Expect) -> Read:
    """A listing read as what it is: as the kind expected first, else as the other kind; when it is
    neither, the error is the expected kind's (an HTML page named as a feed says so)."""
    first, second = (read_feed, read_sitemap) if expect == "feed" else (read_sitemap, read_feed)
    try:
        return first(body, url)
    except SourceError as exc:
        try:
            return second(body, url)
        except SourceError:
            raise exc from None


def listing_key(url: str) -> str:
    """A listing's URL as it is compared with the ones read already (no fragment, host in lower case)."""
    parts = urlsplit(url.strip())
    return urlunsplit((parts.scheme.lower(), parts.netloc.lower(), parts.path or "/", parts.query, ""))


def parse_sitemap(body: bytes, url: str) -> tuple[str, list[Entry]]:
    """('urlset', page entries), ('sitemapindex', child sitemap entries) or ('text', page entries)."""
    read = read_sitemap(body, url)
    return read.kind, read.entries


def read_sitemap(body: bytes, url: str) -> Read:
    """A sitemap (urlset, Google News, image or video sitemap), a sitemap index or a plain-text sitemap (one
    URL per line), gzipped or not, read as far as it is readable: every `<url>` (or `<sitemap>`) closed
    before a cut or damage counts, the damage is said. SourceError when it is no sitemap, or when nothing
    of it can be read."""
    body = _unwrap(body, url, "sitemap")
    if not body.startswith(b"<"):
        return _text_sitemap(body, url)
    pull = _Pull(body, url)
    entries: list[Entry] = []
    kind = None
    for event, element in pull.events():
        if kind is None:
            kind = etree.QName(element).localname
            if kind not in ("urlset", "sitemapindex"):
                raise SourceError(f"sitemap {url}: root element <{kind}> is not <urlset> or <sitemapindex>")
            continue
        if event != "end" or element.getparent() is not pull.root:
            continue
        if _local(element) in ("url", "sitemap"):
            entry = _sitemap_entry(element, url)
            if entry is not None:
                entries.append(entry)
        pull.discard(element)
    if kind is None:
        raise SourceError(f"sitemap {url}: bad XML: {pull.damage() or 'no element'}")
    if not entries and pull.damage() is not None:
        raise SourceError(f"sitemap {url}: bad XML: {pull.damage()}")
    return Read(kind, entries, pull.damage())


def _sitemap_entry(item: etree._Element, url: str) -> Entry | None:
    loc, date = None, None
    for part in item.iter():
        if not isinstance(part.tag, str):
            continue
        name = etree.QName(part).localname
        text = (part.text or "").strip()
        if name == "loc" and loc is None and part.getparent() is item:
            loc = text
        elif name == "publication_date" and text:  # Google News sitemaps: the article's own date
            date = _iso_date(text) or date
        elif name == "lastmod" and text and date is None:
            date = _iso_date(text)
    return _join(url, loc, date) if loc else None


def _text_sitemap(body: bytes, url: str) -> Read:
    """The sitemaps.org protocol's text form: one URL per line, nothing else."""
    lines = [line.strip() for line in body.decode("utf-8", "replace").splitlines() if line.strip()]
    if not any(line.lower().startswith(("http://", "https://")) for line in lines[:50]):
        raise SourceError(f"sitemap {url}: neither XML nor a list of URLs")
    return Read("text", [Entry(line, origin=url) for line in lines])
