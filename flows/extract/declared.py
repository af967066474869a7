"""What a page declares about itself, read before anything is guessed: JSON-LD (`NewsArticle`, `Article`,
`BlogPosting`... in `@graph`s, arrays and nested objects, broken JSON tolerated), OpenGraph and `article:*`,
Dublin Core, parse.ly and other CMS meta tags, `itemprop` microdata, `<time datetime>`, visible headlines.

Each field is cross-checked before it is believed (a date in the future or before the web, an "author" that
is the site's name, a URL, an e-mail address or "Staff"), and a field the page does not declare, or
declares wrongly, is left to trafilatura's heuristics (extract/fields.py). Reading is one pass over the
already parsed tree's <meta>, <script type="application/ld+json">, <h1> and microdata elements: cheaper than
the heuristics it spares (see docs/benchmarks.md, metadata).
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta, timezone
from email.utils import parsedate_to_datetime
from types import MappingProxyType
from typing import Any
from urllib.parse import urljoin, urlsplit

from lxml.html import HtmlElement

from flows.filters import ARTICLE_TYPES

# types that carry a page's dates and headline when no article object does
_PAGE_TYPES = frozenset(
    {"webpage", "itempage", "collectionpage", "aboutpage", "medicalwebpage", "videoobject"}
)
_ORGANISATION_TYPES = frozenset({"organization", "newsmediaorganization", "corporation", "website", "brand"})

# meta tag names, in the order they are believed (lower-cased; property=, name= and itemprop= alike)
_PUBLISHED_KEYS = (
    "article:published_time",
    "og:article:published_time",
    "datepublished",
    "published_time",
    "article:published",
    "dcterms.issued",
    "dc.date.issued",
    "dcterms.created",
    "dc.date.created",
    "dc.date",
    "dcterms.date",
    "parsely-pub-date",
    "sailthru.date",
    "pubdate",
    "publishdate",
    "publish-date",
    "publish_date",
    "article.published",
    "article_date_original",
    "original-publish-date",
    "date",
    "og:published_time",
    "cxenseparse:recs:publishtime",
)
_MODIFIED_KEYS = (
    "article:modified_time",
    "og:article:modified_time",
    "datemodified",
    "modified_time",
    "dcterms.modified",
    "dc.date.modified",
    "og:updated_time",
    "article.updated",
    "lastmod",
    "last-modified",
)
_AUTHOR_KEYS = (
    "author",
    "article:author",
    "dc.creator",
    "dcterms.creator",
    "parsely-author",
    "sailthru.author",
    "byl",
    "cxenseparse:author",
    "article:author_name",
)
_TITLE_KEYS = ("og:title", "twitter:title", "dc.title", "parsely-title", "sailthru.title", "headline")
_SECTION_KEYS = ("article:section", "parsely-section", "section", "cxenseparse:recs:articlesection")
_IMAGE_KEYS = ("og:image", "og:image:url", "og:image:secure_url", "twitter:image", "twitter:image:src")
_DESCRIPTION_KEYS = ("og:description", "description", "twitter:description", "dc.description")
_SITENAME_KEYS = ("og:site_name", "application-name", "publisher", "twitter:site")
_LANGUAGE_KEYS = ("og:locale", "content-language", "language", "dc.language", "inlanguage")
_TAG_KEYS = ("article:tag", "news_keywords", "keywords", "parsely-tags")

# Placeholders that are not a person's name, in the languages of the news most often seen
_NOT_NAMES = frozenset(
    {
        "admin",
        "administrator",
        "staff",
        "editor",
        "editors",
        "editorial",
        "editorial staff",
        "editorial team",
        "newsroom",
        "news desk",
        "newsdesk",
        "web desk",
        "webdesk",
        "desk",
        "team",
        "guest",
        "guest author",
        "anonymous",
        "unknown",
        "author",
        "reporter",
        "correspondent",
        "redaktion",
        "rédaction",
        "redaction",
        "redacción",
        "redaccion",
        "redazione",
        "redação",
        "redacao",
        "redactie",
        "agencies",
        "agency",
        "wires",
        "wire",
        "null",
        "none",
        "n/a",
        "гость",
        "автор",
        "редакция",
        "webmaster",
        "editorial board",
    }
)
# Words that end a name in a byline: a job, an affiliation, a date (kept out of the name that precedes them)
_AFTER_NAME = re.compile(
    r"\s+(?:(?:senior|staff|chief|news|national|political|contributing|special|business|auto|sports?|"
    r"foreign|political|investigative)\s+)*(?:writer|reporter|correspondent|editor|columnist|contributor|"
    r"producer|journalist|analyst)\b.*$"
    r"|\s+(?:monday|tuesday|wednesday|thursday|friday|saturday|sunday|january|february|march|april|may|june|"
    r"july|august|september|october|november|december|jan|feb|mar|apr|jun|jul|aug|sep|sept|oct|nov|dec|"
    r"published|updated|posted|view more|share|follow)\b.*$",
    re.IGNORECASE,
)
_WEEKDAYS = frozenset({"monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"})
_GLUED = re.compile(r"(?<=[A-Z])(?=[A-Z][a-z]{2,})")  # 'TUCKERAssociated Press': two words run together
_AGENCY_AFTER = re.compile(r"\s+(?:the\s+)?(?:associated press|ap|reuters|afp|dpa|ansa|efe)$", re.IGNORECASE)
_PARTICLES = frozenset(
    {
        "de",
        "da",
        "di",
        "do",
        "dos",
        "das",
        "del",
        "della",
        "der",
        "den",
        "van",
        "von",
        "la",
        "le",
        "du",
        "bin",
        "al",
        "el",
        "ibn",
        "ter",
        "ten",
        "y",
        "e",
        "zu",
        "af",
        "st.",
    }
)
# Elements a byline is written in, when the page declares no author (cheaper than trafilatura's search)
_BYLINE_XPATH = (
    "//*[@rel='author' or @itemprop='author' or contains(@class, 'byline') or contains(@class, 'author')]"
    "[not(self::meta)][not(self::link)][not(contains(@class, 'comment'))]"
    "[not(ancestor::*[contains(@class, 'comment')])]"
)
_BY = re.compile(
    r"^\s*(?:by|from|written by|von|par|por|di|da|door|av|af|przez|от|автор|作者)\s*[:：]?\s+",
    re.IGNORECASE,
)
_NAME_SEPARATORS = re.compile(r"\s*(?:;|\||\s&\s|\sand\s|\sund\s|\set\s|\sy\s|\se\s|\si\s|\sen\s|、|，)\s*")
_URL_LIKE = re.compile(r"^(?:https?:|www\.)|\.(?:com|org|net|co\.\w\w|\w\w)/|^/|@\w+\.\w")
_ISO = re.compile(
    r"^\s*(\d{4})-(\d{1,2})-(\d{1,2})"
    r"(?:[T\s](\d{1,2}):(\d{2})(?::(\d{2})(?:[.,]\d+)?)?\s*(Z|[+-]\d{2}(?::?\d{2})?|UTC|GMT)?)?",
    re.IGNORECASE,
)
_COMPACT = re.compile(r"^\s*(\d{4})(\d{2})(\d{2})(?:T?(\d{2})(\d{2})(\d{2})?)?\s*$")
_TRAILING_COMMA = re.compile(r",\s*([}\]])")
_HTML_COMMENT = re.compile(r"^\s*(?:<!--|//\s*<!\[CDATA\[|<!\[CDATA\[)|(?:-->|//\s*\]\]>|\]\]>)\s*$")
_JSON_FIELD = re.compile(r'"(headline|datePublished|dateModified|name)"\s*:\s*"((?:[^"\\]|\\.)*)"')
_SPACES = re.compile(r"\s+")
EARLIEST = date(1990, 1, 1)  # before the web: a date this old on a news page is a template's default
MAX_JSON_LD_BYTES = 2_000_000  # a JSON-LD block larger than this is not read (it is not an article's)
MAX_NODES = 2_000  # JSON-LD objects looked at per page


@dataclass(frozen=True, slots=True)
class Stamp:
    """A moment as the page states it."""

    utc: datetime  # the instant, in UTC; a date without a time is that day's midnight UTC
    day: date  # the day as the page states it (in the page's own time zone)
    offset: int | None  # minutes east of UTC the page stated with the time; None: no time or no zone
    precision: str  # "day", "minute" or "second": what the page gave


@dataclass(slots=True)
class Declared:
    """The fields a page declares, cross-checked; None or empty where it declares nothing believable."""

    headline: str | None = None
    page_title: str | None = None  # the <title> element
    authors: list[str] = field(default_factory=list)
    published: Stamp | None = None
    modified: Stamp | None = None
    section: str | None = None
    image: str | None = None
    description: str | None = None
    language: str | None = None  # ISO 639-1
    sitename: str | None = None
    page_type: str | None = None
    tags: list[str] = field(default_factory=list)
    urls: list[str] = field(default_factory=list)  # og:url, twitter:url: the URLs the page names for itself
    sites: tuple[str, ...] = ()  # the site's names (declared, and its domain's): never an author


def clean(value: object) -> str | None:
    """NFC, one space for any run of white space, trimmed; None for anything empty or not text."""
    if not isinstance(value, str):
        return None
    value = _SPACES.sub(" ", unicodedata.normalize("NFC", value)).strip()
    return value or None


def parse_stamp(value: object, now: datetime) -> Stamp | None:
    """An ISO 8601 / RFC 3339 time or date (also `20261120`, RFC 2822 `Fri, 20 Nov 2026 08:00:00 GMT` and
    Unix seconds), checked: not after `now` + 1 day, not before 1990. A local time of exactly 00:00:00 is
    read as a date only (CMSes write day-only dates so)."""
    text = clean(value) if not isinstance(value, int | float) else str(int(value))
    if not text:
        return None
    stamp = _parse_iso(text)
    if stamp is None:
        stamp = _parse_other(text)
    if stamp is None or stamp.day < EARLIEST or stamp.utc > now + timedelta(days=1):
        return None
    return stamp


def _parse_iso(text: str) -> Stamp | None:
    match = _ISO.match(text) or _COMPACT.match(text)
    if match is None:
        return None
    groups = match.groups()
    year, month, day = int(groups[0]), int(groups[1]), int(groups[2])
    hour, minute = groups[3], groups[4]
    second = groups[5] if len(groups) > 5 else None
    zone = groups[6] if len(groups) > 6 else None
    try:
        local_day = date(year, month, day)
        if hour is None or (int(hour), int(minute), int(second or 0)) == (0, 0, 0):
            return Stamp(datetime(year, month, day, tzinfo=UTC), local_day, None, "day")
        offset = _offset_minutes(zone)
        local = datetime(year, month, day, int(hour), int(minute), int(second or 0))
        utc = (local - timedelta(minutes=offset or 0)).replace(tzinfo=UTC)
    except (ValueError, OverflowError):
        return None
    return Stamp(utc, local_day, offset, "second" if second is not None else "minute")


def _offset_minutes(zone: str | None) -> int | None:
    if zone is None:
        return None
    if zone.upper() in ("Z", "UTC", "GMT"):
        return 0
    sign = -1 if zone[0] == "-" else 1
    digits = zone[1:].replace(":", "")
    hours, minutes = int(digits[:2]), int(digits[2:4] or 0)
    if hours > 14 or minutes > 59:
        raise ValueError(zone)
    return sign * (hours * 60 + minutes)


_MONTHS = MappingProxyType(
    {
        name: number
        for number, names in enumerate(
            (
                ("january", "jan"),
                ("february", "feb"),
                ("march", "mar"),
                ("april", "apr"),
                ("may",),
                ("june", "jun"),
                ("july", "jul"),
                ("august", "aug"),
                ("september", "sep", "sept"),
                ("october", "oct"),
                ("november", "nov"),
                ("december", "dec"),
            ),
            1,
        )
        for name in names
    }
)
_MONTH = "(?P<month>" + "|".join(sorted(_MONTHS, key=len, reverse=True)) + r")\.?"
_LOOSE_DAY = re.compile(
    rf"\b(?:{_MONTH}\s+(?P<day>\d{{1,2}})(?:st|nd|rd|th)?,?\s+(?P<year>\d{{4}})"
    rf"|(?P<day2>\d{{1,2}})\.?\s+{_MONTH.replace('month', 'month2')},?\s+(?P<year2>\d{{4}}))\b",
    re.IGNORECASE,
)
_LOOSE_TIME = re.compile(
    r"\b(?P<hour>\d{1,2})[:.](?P<minute>\d{2})(?::(?P<second>\d{2}))?\s*(?P<half>[ap]\.?m\.?)?"
    r"\s*(?P<zone>UTC|GMT(?:[+-]\d{2}:?\d{2})?|Z|EST|EDT|CST|CDT|MST|MDT|PST|PDT|BST|CET|CEST|EET|EEST|IST|JST|"
    r"KST|AEST|AEDT|SGT|HKT|WIB|MSK|ET|PT|CT|MT)?\b",
    re.IGNORECASE,
)
# Offsets of the time zone abbreviations news pages print (ET, PT... name no offset: the time is not placed)
_ZONES = MappingProxyType(
    {
        "utc": 0,
        "gmt": 0,
        "z": 0,
        "est": -300,
        "edt": -240,
        "cst": -360,
        "cdt": -300,
        "mst": -420,
        "mdt": -360,
        "pst": -480,
        "pdt": -420,
        "bst": 60,
        "cet": 60,
        "cest": 120,
        "eet": 120,
        "eest": 180,
        "ist": 330,
        "jst": 540,
        "kst": 540,
        "aest": 600,
        "aedt": 660,
        "sgt": 480,
        "hkt": 480,
        "wib": 420,
        "msk": 180,
    }
)
_RFC_2822 = re.compile(r"^(?:[a-z]{3},?\s*)?\d{1,2}\s+[a-z]{3}\s+\d{4}\b", re.IGNORECASE)


def parse_loose(text: str) -> Stamp | None:
    """A date written out ('November 19, 2019, 07:47 PM EST', '01:38 PM IST Nov 20, 2019', '19 Nov 2019
    05:44 GMT'), with its time where a time and a known zone are written with it (else the day only)."""
    day_match = _LOOSE_DAY.search(text)
    if day_match is None:
        return None
    groups = day_match.groupdict()
    month = _MONTHS[(groups["month"] or groups["month2"]).lower().rstrip(".")]
    try:
        day = date(int(groups["year"] or groups["year2"]), month, int(groups["day"] or groups["day2"]))
    except ValueError:
        return None
    stamp = Stamp(datetime(day.year, day.month, day.day, tzinfo=UTC), day, None, "day")
    for time_match in _LOOSE_TIME.finditer(text):
        zone = (time_match["zone"] or "").lower()
        offset = _ZONES.get(zone)
        if offset is None and zone.startswith("gmt") and len(zone) > 3:
            offset = _offset_minutes(zone[3:])
        if offset is None:
            continue
        hour, minute = int(time_match["hour"]), int(time_match["minute"])
        half = (time_match["half"] or "").lower().replace(".", "")
        if half == "pm" and hour < 12:
            hour += 12
        elif half == "am" and hour == 12:
            hour = 0
        if hour > 23 or minute > 59:
            continue
        second = int(time_match["second"]) if time_match["second"] else 0
        local = datetime(day.year, day.month, day.day, hour, minute, second)
        utc = (local - timedelta(minutes=offset)).replace(tzinfo=UTC)
        return Stamp(utc, day, offset, "second" if time_match["second"] else "minute")
    return stamp


def _parse_other(text: str) -> Stamp | None:
    if text.isdigit() and len(text) in (10, 13):  # Unix time, seconds or milliseconds
        try:
            moment = datetime.fromtimestamp(int(text[:10]), UTC)
        except (ValueError, OverflowError, OSError):
            return None
        return Stamp(moment, moment.date(), 0, "second")
    if not _RFC_2822.match(text):
        return parse_loose(text)
    try:
        moment = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return parse_loose(text)
    delta = moment.utcoffset()
    offset = None if delta is None else int(delta.total_seconds() // 60)
    if (moment.hour, moment.minute, moment.second) == (0, 0, 0):
        return Stamp(datetime(moment.year, moment.month, moment.day, tzinfo=UTC), moment.date(), None, "day")
    utc = moment.astimezone(UTC) if moment.tzinfo else moment.replace(tzinfo=UTC)
    return Stamp(utc, moment.date(), offset, "second")


def stamp_of_day(value: str | None) -> Stamp | None:
    """A day found by trafilatura's date heuristics (YYYY-MM-DD): day precision."""
    if not value:
        return None
    try:
        day = date.fromisoformat(value[:10])
    except ValueError:
        return None
    return Stamp(datetime(day.year, day.month, day.day, tzinfo=UTC), day, None, "day")


# ---- reading the tree


class _Page:
    """The parts of the tree the fields are read from, gathered in one pass."""

    def __init__(self, tree: HtmlElement) -> None:
        self.meta: dict[str, list[str]] = {}
        self.json_ld: list[Any] = []
        self.broken_json: list[str] = []
        self.h1: list[str] = []
        self.title: str | None = None
        self.microdata: dict[str, list[str]] = {}
        self.times: list[str] = []  # <time datetime> in the order met
        self.lang: str | None = tree.get("lang") if isinstance(tree.tag, str) else None
        for element in tree.iter("meta", "script", "h1", "title", "time", "link"):
            tag = element.tag
            if tag == "meta":
                content = element.get("content")
                if content is None or not content.strip():
                    continue
                for attribute in ("property", "name", "itemprop", "http-equiv"):
                    key = element.get(attribute)
                    if key:
                        self.meta.setdefault(key.strip().lower(), []).append(content.strip())
            elif tag == "script":
                kind = (element.get("type") or "").lower()
                if "ld+json" in kind and element.text:
                    self._json_ld(element.text)
            elif tag == "h1":
                text = clean(element.text_content())
                if text and len(text) <= 400:
                    self.h1.append(text)
            elif tag == "title":
                if self.title is None:
                    self.title = clean(element.text_content())
            elif tag == "time":
                when = element.get("datetime")
                if when:
                    prop = (element.get("itemprop") or "").lower()
                    if prop:
                        self.microdata.setdefault(prop, []).append(when)
                    elif element.get("pubdate") is not None:
                        self.microdata.setdefault("pubdate", []).append(when)
                    else:
                        self.times.append(when)
        for element in tree.xpath("//*[@itemprop][not(self::meta)][not(self::time)]")[:200]:
            prop = element.get("itemprop").strip().lower()
            if prop in ("headline", "author", "datepublished", "datemodified", "name"):
                value = element.get("content") or element.get("datetime") or element.text_content()
                if value and value.strip():
                    self.microdata.setdefault(prop, []).append(value)

    def _json_ld(self, text: str) -> None:
        if len(text) > MAX_JSON_LD_BYTES:
            return
        text = _HTML_COMMENT.sub("", text.strip())
        for attempt in (text, _TRAILING_COMMA.sub(r"\1", text)):
            try:
                self.json_ld.append(json.loads(attempt, strict=False))
                return
            except ValueError:
                continue
        self.broken_json.append(text)

    def first(self, keys: tuple[str, ...]) -> Iterator[str]:
        for key in keys:
            yield from self.meta.get(key, ())


def _types(node: dict[str, Any]) -> set[str]:
    kind = node.get("@type")
    kinds = kind if isinstance(kind, list) else [kind]
    return {k.rsplit("/", 1)[-1].lower() for k in kinds if isinstance(k, str)}


def _nodes(data: Any) -> Iterator[dict[str, Any]]:
    """Every JSON-LD object, breadth first (the page's main objects before the ones nested in them)."""
    queue = [data]
    seen = 0
    while queue and seen < MAX_NODES:
        item = queue.pop(0)
        seen += 1
        if isinstance(item, list):
            queue.extend(item)
        elif isinstance(item, dict):
            yield item
            queue.extend(v for v in item.values() if isinstance(v, dict | list))


def _text(value: Any) -> str | None:
    """A JSON-LD value as text: a string, the first of a list, an object's name / @value / url."""
    if isinstance(value, list):
        for item in value:
            if (text := _text(item)) is not None:
                return text
        return None
    if isinstance(value, dict):
        return _text(value.get("name") or value.get("@value") or value.get("url") or value.get("contentUrl"))
    return clean(value) if isinstance(value, str) else None


def read_declared(tree: HtmlElement, url: str | None, now: datetime | None = None) -> Declared:
    """The fields `tree` declares, cross-checked (see the module's docstring)."""
    now = now or datetime.now(UTC)
    page = _Page(tree)
    declared = Declared(page_title=page.title)
    objects = [node for data in page.json_ld for node in _nodes(data)]
    # objects by their @id, for references to them ({"@id": ...} alone is a reference, not the object)
    by_id = {node["@id"]: node for node in objects if isinstance(node.get("@id"), str) and len(node) > 1}
    articles = [node for node in objects if _types(node) & ARTICLE_TYPES]
    pages = [node for node in objects if _types(node) & _PAGE_TYPES]
    organisations = [node for node in objects if _types(node) & _ORGANISATION_TYPES]

    sitename = _sitename(page, articles, organisations, by_id)
    declared.sitename = sitename
    declared.page_type = _page_type(page, articles)
    declared.published = _stamp(
        [n.get("datePublished") for n in articles]
        + [*page.first(_PUBLISHED_KEYS)]
        + [*page.microdata.get("datepublished", ())]
        + [n.get("datePublished") for n in pages]
        + [*page.microdata.get("pubdate", ())]
        + _broken_field(page, "datePublished")
        + [n.get("datePublished") for n in objects if n not in articles and n not in pages],
        now,
    )
    declared.modified = _stamp(
        [n.get("dateModified") for n in articles]
        + [*page.microdata.get("datemodified", ())]
        + [*page.first(_MODIFIED_KEYS)]
        + [n.get("dateModified") for n in pages]
        + _broken_field(page, "dateModified"),
        now,
    )
    if declared.published is None and page.times:  # a lone <time datetime> near the top: the article's
        declared.published = _stamp(page.times[:1], now)
    if declared.published is None or declared.published.precision == "day":
        declared.published = _date_line(tree, declared.published, now) or declared.published
    if declared.modified and declared.published and declared.modified.utc < declared.published.utc:
        declared.modified = None  # modified before published: one of the two is wrong, keep the first
    declared.sites = site_names(sitename, url)
    declared.authors = _authors(page, articles, pages, by_id, declared.sites)
    declared.headline = _headline(page, articles, sitename)
    declared.section = next(
        (s for s in [*(_text(n.get("articleSection")) for n in articles), *page.first(_SECTION_KEYS)] if s),
        None,
    )
    image = next(
        (i for i in [*page.first(_IMAGE_KEYS), *(_text(n.get("image")) for n in articles)] if i), None
    )
    declared.image = clean(urljoin(url or "", image)) if image and not image.startswith("data:") else None
    declared.description = next(
        (
            clean(d)
            for d in [*page.first(_DESCRIPTION_KEYS), *(_text(n.get("description")) for n in articles)]
            if clean(d)
        ),
        None,
    )
    declared.language = _language(page, articles)
    declared.tags = _tags(page, articles)
    declared.urls = [*page.meta.get("og:url", ()), *page.meta.get("twitter:url", ())]
    return declared


_DATE_LINE_XPATH = (
    "//*[contains(@class, 'date') or contains(@class, 'publish') or contains(@class, 'byline') "
    "or contains(@class, 'time')][not(self::meta)][not(ancestor::*[contains(@class, 'comment')])]"
)


def _date_line(tree: HtmlElement, known: Stamp | None, now: datetime) -> Stamp | None:
    """The time a visible date line states ('Published 11:11 PM EST Nov 19, 2019'), when the page declares
    none: read only where the declared date has no time (or there is none), and only a time on the declared
    day is taken."""
    for element in tree.xpath(_DATE_LINE_XPATH)[:15]:
        text = clean(element.text_content())
        if not text or len(text) > 200:
            continue
        stamp = parse_loose(text)
        if stamp is None or stamp.precision == "day" or stamp.utc > now + timedelta(days=1):
            continue
        if known is None or stamp.day == known.day:
            return stamp
    return None


def _broken_field(page: _Page, name: str) -> list[str]:
    """A field of JSON-LD that did not parse, found by its "name": "value" pair."""
    return [value for text in page.broken_json for key, value in _JSON_FIELD.findall(text) if key == name]


def _stamp(values: list[Any], now: datetime) -> Stamp | None:
    """The first believable moment among `values`; a later one that gives the same day with a time wins
    over a day-only one (a page often states the day in one place and the minute in another)."""
    chosen: Stamp | None = None
    for value in values:
        stamp = parse_stamp(value, now) if isinstance(value, str | int | float) else None
        if stamp is None:
            continue
        if chosen is None:
            chosen = stamp
            if stamp.precision != "day":
                return stamp
        elif stamp.precision != "day" and stamp.day == chosen.day:
            return stamp
    return chosen


def _sitename(
    page: _Page, articles: list[dict[str, Any]], organisations: list[dict[str, Any]], by_id: dict[str, Any]
) -> str | None:
    for node in articles:
        publisher = node.get("publisher")
        if (
            isinstance(publisher, dict)
            and set(publisher) <= {"@id", "@type"}
            and publisher.get("@id") in by_id
        ):
            publisher = by_id[publisher["@id"]]
        if (name := _text(publisher)) and not name.startswith("http"):
            return name
    for value in page.first(_SITENAME_KEYS):
        if (name := clean(value)) and not name.startswith("http"):
            return name.lstrip("@") or None
    for node in organisations:
        if (name := _text(node.get("name"))) is not None:
            return name
    return None


def _page_type(page: _Page, articles: list[dict[str, Any]]) -> str | None:
    for value in page.meta.get("og:type", ()):
        return clean(value)
    for node in articles:
        kind = node.get("@type")
        return clean(kind[0] if isinstance(kind, list) and kind else kind)
    return None


def _folded(text: str) -> str:
    return "".join(ch for ch in unicodedata.normalize("NFKD", text.casefold()) if ch.isalnum())


def _name_words(text: str) -> set[str]:
    return {w for w in re.findall(r"\w+", text.casefold()) if w not in ("the", "www", "com")}


def site_names(sitename: str | None, url: str | None) -> tuple[str, ...]:
    """The names a site goes by: the one it declares and its domain's ('linknaija' of www.linknaija.com)."""
    names = [sitename] if sitename else []
    host = urlsplit(url).hostname if url else None
    if host:
        labels = [label for label in host.split(".") if label not in ("www", "m", "amp", "edition")]
        if len(labels) >= 2:
            names.append(labels[-3] if len(labels) >= 3 and len(labels[-2]) <= 3 else labels[-2])
    return tuple(names)


def _name_problem(name: str, sites: tuple[str, ...]) -> bool:
    """Not a person's or agency's name: a URL, an e-mail address, a placeholder, the site itself (or its
    desk: 'India Post News Weekly' on India Post), words of a sentence."""
    folded = _folded(name)
    if len(folded) < 2 or _URL_LIKE.search(name) or "@" in name or name.lower() in _NOT_NAMES:
        return True
    if "admin" in folded:
        return True
    words_ = name.split()
    if any(ch.isalpha() and ch.isascii() for ch in name):  # a Latin-script name: capitalised words
        if any(w[0].islower() and w.lower() not in _PARTICLES for w in words_ if w[0].isalpha()):
            return True
        if len(words_) == 1 and name.isupper() and len(name) > 3:
            return True  # a station's or account's code
    for sitename in sites:
        mine, site = _name_words(name), _name_words(sitename)
        if mine and site and (mine <= site or site <= mine):
            return True
        if folded == _folded(sitename) or folded == _folded(sitename.rsplit(".", 1)[0]):
            return True
    if words_[0].lower().rstrip(".,") in _MONTHS or words_[0].lower().rstrip(".,") in _WEEKDAYS:
        return True
    if sum(ch.isdigit() for ch in name) > 2 or ":" in name or len(name) > 80 or len(name.split()) > 6:
        return True
    words = name.split()
    if len(words) == 1 and (len(name) < 4 or name.islower()):  # initials, a handle
        return True
    return (
        any(w.lower() in ("staff", "desk", "team", "redaktion", "newsroom") for w in words)
        and len(words) <= 3
    )


def split_names(value: str) -> list[str]:
    """'By Ann Lee and Bo Ma' → ['Ann Lee', 'Bo Ma']; 'Lee, Ann' stays one name, 'Ann Lee, Bo Ma' is two."""
    value = _BY.sub("", value).strip(" ,;|-–—")
    value = re.split(r"(?<=\w\w)\.\s+", value, maxsplit=1)[0]  # 'Ann Lee. Sputnik': an affiliation follows
    parts = [p.strip(" ,;|-–—") for p in _NAME_SEPARATORS.split(value)]
    names: list[str] = []
    for part in parts:
        pieces = [p.strip() for p in part.split(",")]
        if len(pieces) > 1 and all(len(p.split()) >= 2 for p in pieces):
            names.extend(pieces)
        elif len(pieces) > 1 and len(pieces[0].split()) >= 2:
            names.append(pieces[0])  # 'Ann Lee, Futurism': the name, then an affiliation
        elif part:
            names.append(_BY.sub("", part).strip())
    return [_AFTER_NAME.sub("", n).strip(" ,;|-–—") for n in names if n]


def clean_authors(values: list[str], sites: tuple[str, ...]) -> list[str]:
    """The names among `values`, split where several were joined, cleaned, each once, in order."""
    authors: list[str] = []
    seen: set[str] = set()
    for value in values:
        for name in split_names(value):
            name = clean(_GLUED.sub(" ", name)) or ""
            person = _AGENCY_AFTER.sub("", name).strip()
            name = person if len(person.split()) >= 2 else name  # "Tom Davies Associated Press"
            if name.isupper() and len(name) > 4 and " " in name:
                name = name.title()  # 'ANN LEE' as bylines print it
            if name and not _name_problem(name, sites) and _folded(name) not in seen:
                seen.add(_folded(name))
                authors.append(name)
    return authors


def _author_values(value: Any, by_id: dict[str, Any], depth: int = 0) -> list[str]:
    if depth > 3:
        return []
    if isinstance(value, list):
        return [name for item in value for name in _author_values(item, by_id, depth + 1)]
    if isinstance(value, dict):
        if "name" not in value and isinstance(value.get("@id"), str) and value["@id"] in by_id:
            value = by_id[value["@id"]]
        name = value.get("name")
        if isinstance(name, str):
            return [name]
        if isinstance(name, list | dict):
            return _author_values(name, by_id, depth + 1)
        given, family = value.get("givenName"), value.get("familyName")
        return [f"{given} {family}"] if isinstance(given, str) and isinstance(family, str) else []
    return [value] if isinstance(value, str) else []


def _authors(
    page: _Page,
    articles: list[dict[str, Any]],
    pages: list[dict[str, Any]],
    by_id: dict[str, Any],
    sites: tuple[str, ...],
) -> list[str]:
    for values in (
        [name for node in articles for name in _author_values(node.get("author"), by_id)],
        [name for node in articles for name in _author_values(node.get("creator"), by_id)],
        [name for node in pages for name in _author_values(node.get("author"), by_id)],
        page.microdata.get("author", []),
        [*page.first(_AUTHOR_KEYS)],
    ):
        if authors := clean_authors(values, sites):
            return authors
    return []


def byline_authors(tree: HtmlElement, sites: tuple[str, ...]) -> list[str]:
    """The names in the page's byline (an element marked rel/itemprop author, or of a byline or author
    class, outside comments): the first such short element that names someone."""
    for element in tree.xpath(_BYLINE_XPATH)[:20]:
        text = clean(element.text_content())
        if text and len(text) <= 120 and (authors := clean_authors([text], sites)):
            return authors
    return []


def _words(text: str) -> set[str]:
    return {w for w in re.findall(r"\w+", text.casefold()) if len(w) > 1 or not w.isascii()}


def _matches(h1: str, declared: str) -> bool:
    """The visible headline and a declared title name the same article: the shorter's words are mostly in
    the longer (declared titles add the site's name, reword a clause, or cut the headline short)."""
    a, b = _words(h1), _words(declared)
    if not a or not b:
        return False
    common = len(a & b)
    if common >= 3 and common >= 0.6 * min(len(a), len(b)):
        return True
    # a short headline that begins the declared title ('Tag: Afghanistan' of 'Tag: Afghanistan - Site')
    return len(a) >= 2 and _folded(declared).startswith(_folded(h1))


def strip_site(title: str, sitename: str | None) -> str:
    """'Headline | Site' → 'Headline' (also ' - ', ' – ', ' — ', ' :: ', ' · '): a part that is the site's
    name, or a last part of at most four words after a longer first one."""
    parts = re.split(r"\s+(?:\||-|–|—|::|·|»)\s+", title)
    if len(parts) < 2:
        return title
    site = _folded(sitename) if sitename else None
    kept = [
        p
        for p in parts
        if not (site and (_folded(p) == site or (site in _folded(p) and len(p.split()) <= 4)))
    ]
    if (
        len(kept) == len(parts)
        and len(parts[-1].split()) <= 4
        and len(parts[0].split()) > len(parts[-1].split())
    ):
        kept = parts[:-1]
    return " - ".join(kept) if kept else title


def _headline(page: _Page, articles: list[dict[str, Any]], sitename: str | None) -> str | None:
    """The headline readers see: the first <h1> that a declared title (JSON-LD headline, og:title, <title>)
    confirms; else the JSON-LD headline; else a declared title without the site's name. None: no title is
    declared (trafilatura's heuristics then look)."""
    declared = [t for t in (_text(n.get("headline")) or _text(n.get("name")) for n in articles) if t]
    declared += [t for t in (clean(v) for v in page.first(_TITLE_KEYS)) if t]
    declared += [t for t in (clean(v) for v in page.microdata.get("headline", ())) if t]
    if page.title:
        declared.append(page.title)
    declared += _broken_field(page, "headline")
    site = _folded(sitename) if sitename else None
    for h1 in page.h1:
        if site and _folded(h1) == site:
            continue
        if any(_matches(h1, title) for title in declared):
            return h1
    for node in articles:
        if (headline := _text(node.get("headline"))) and (not site or _folded(headline) != site):
            return headline
    for title in declared:
        stripped = strip_site(title, sitename)
        if not site or _folded(stripped) != site:
            return stripped
    return None


def _language(page: _Page, articles: list[dict[str, Any]]) -> str | None:
    values = [*(_text(n.get("inLanguage")) for n in articles), page.lang, *page.first(_LANGUAGE_KEYS)]
    for value in values:
        if value:
            code = re.split(r"[-_]", value.strip(), maxsplit=1)[0].lower()
            if 2 <= len(code) <= 3 and code.isalpha():
                return code
    return None


def _tags(page: _Page, articles: list[dict[str, Any]]) -> list[str]:
    values: list[str] = []
    for node in articles:
        keywords = node.get("keywords")
        if isinstance(keywords, str):
            values.append(keywords)
        elif isinstance(keywords, list):
            values.extend(k for k in keywords if isinstance(k, str))
    values.extend(page.first(_TAG_KEYS))
    tags: list[str] = []
    for value in values:
        for part in value.split(","):
            tag = clean(part)
            if tag and tag not in tags and len(tag) <= 100:
                tags.append(tag)
    return tags[:50]


def zone(minutes: int | None) -> timezone | None:
    """The fixed offset `minutes` east of UTC (None for None)."""
    return None if minutes is None else timezone(timedelta(minutes=minutes))
