"""HTML → document row: trafilatura's main text and metadata, normalised, hashed and counted.

Runs inside extraction worker processes (see pool.py), so everything here is a plain function
of its arguments. A page that yields no usable text becomes a reject with a reason, never an exception.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections import OrderedDict
from typing import Any

from flows.dedup.near import signature
from flows.extract.declared import Stamp, clean
from flows.extract.fields import extract_fields
from flows.extract.language import SNIFF_BYTES, choose_language, detect_language
from flows.extract.options import ExtractOptions
from flows.extract.urls import choose_canonical
from flows.extract.words import count_words
from flows.records import SCHEMA_VERSION, DocumentRow, Extracted, Page, rejected

_CONTROL = re.compile(rb"[\x00-\x08\x0e-\x1a\x1c-\x1f]")
# <meta property="article:published_time">: the page declares itself an article (Open Graph article tags)
_PUBLISHED_META = re.compile(rb"<meta\b[^>]*[\"']article:published_time[\"']", re.IGNORECASE)
_META_CHARSET = re.compile(rb"<meta[^>]+charset\s*=\s*[\"']?\s*([a-zA-Z0-9_:.-]+)", re.IGNORECASE)
_UTF8 = frozenset({"utf-8", "utf8", "us-ascii", "ascii"})


# Columns that depend on where a page was read, not on its bytes: set anew for every copy of a page.
_LOCATION_COLUMNS = ("url", "canonical_url", "doc_id", "fetched_at", "origin")


class IdenticalPages:
    """The documents of the last pages a worker extracted, keyed by the pages' bytes, so that a page served
    again byte for byte under another URL (a mirror, a URL with tracking parameters, http and https) is not
    extracted a second time: crawls and archives are full of them (WARC files mark them as revisits).

    Only documents whose page named a URL other than the one it was read under (canonical link, og:url)
    are kept: trafilatura then read URL, host, date and site name from the page, and with links and images
    left out its text does not depend on the URL either, so a copy's document is the original's with the
    location columns set anew (tests/extract/test_extract.py compares it with a fresh extraction). A page
    without such a URL may have taken its metadata from the URL it was read under, and is extracted every
    time."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._documents: OrderedDict[bytes, tuple[dict[str, Any], str]] = OrderedDict()  # location-free
        self.hits = 0

    @staticmethod
    def key(page: Page) -> bytes:
        digest = hashlib.sha256(page.html)  # ~0.1 ms for a 170 KB page, 0.4 % of its extraction
        digest.update((page.charset or "").encode())
        return digest.digest()

    def get(self, key: bytes, page: Page) -> DocumentRow | None:
        entry = self._documents.get(key)
        if entry is None:
            return None
        self._documents.move_to_end(key)
        self.hits += 1
        document, declared_url = entry
        canonical = choose_canonical(page.url, declared_url)
        return {  # type: ignore[return-value]  # the stored columns, and the location ones set anew
            **document,
            "url": page.url,
            "canonical_url": canonical,
            "doc_id": doc_id(canonical, document["content_hash"]),
            "fetched_at": page.fetched_at,
            "origin": page.origin,
        }

    def put(self, key: bytes, page: Page, document: DocumentRow, declared_url: str | None) -> None:
        if not declared_url or declared_url == page.url:
            return  # the metadata may have come from the URL (see above)
        kept = {k: v for k, v in document.items() if k not in _LOCATION_COLUMNS}
        self._documents[key] = (kept, declared_url)
        if len(self._documents) > self.size:
            self._documents.popitem(last=False)


def normalize_text(text: str) -> str:
    """Unicode NFC; runs of spaces, tabs and odd spaces become one space, lines are trimmed and blank
    ones dropped (Unicode line separators count as line breaks)."""
    if not unicodedata.is_normalized("NFC", text):
        text = unicodedata.normalize("NFC", text)
    return "\n".join(filter(None, (" ".join(line.split()) for line in text.splitlines())))


def drop_headline(text: str, title: str | None) -> str:
    """Drop the headline (and a short kicker above it) from the start of the text: it is the `title`
    column already, and templates differ in whether it sits inside the article container, which would
    make two copies of one article hash differently."""
    if not title:
        return text
    lines = text.split("\n", 3)
    for i, line in enumerate(lines[:3]):
        if line == title and all(len(before.split()) <= 4 for before in lines[:i]):
            return "\n".join(lines[i + 1 :])
    return text


def content_hash(text: str) -> str:
    return hashlib.blake2b(text.encode("utf-8"), digest_size=16).hexdigest()


def doc_id(canonical: str, text_hash: str) -> str:
    return hashlib.blake2b(f"{canonical}\n{text_hash}".encode(), digest_size=8).hexdigest()


def decode_html(html: bytes, declared: str | None) -> bytes | str:
    """The page as text when it declares a charset other than UTF-8 (HTTP header first, then <meta>);
    otherwise the bytes, which trafilatura decodes as UTF-8 or by detection."""
    charset = declared
    if charset is None:
        match = _META_CHARSET.search(html[:SNIFF_BYTES])
        charset = match.group(1).decode("ascii").lower() if match else None
    if charset is None or charset in _UTF8:
        return html
    try:
        return html.decode(charset, errors="replace")
    except LookupError:  # an unknown charset name: let trafilatura detect
        return html


def warm_up() -> None:
    """Load what the first extraction would otherwise load (language model, trafilatura's caches), so that
    worker processes forked afterwards start warm."""
    detect_language("A short English sentence to load the language model.")
    extract_fields(
        "<html><body><article><p>" + "Warm-up text for the extractor. " * 20 + "</p></article></body></html>",
        "https://warm-up.test/",
        favor_precision=True,
    )


def looks_binary(html: bytes) -> bool:
    """Control bytes in the first 4 KB mean this is not text (images, archives, PDFs served as HTML)."""
    head = html[:SNIFF_BYTES]
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):  # UTF-16 with BOM: text despite its NUL bytes
        return False
    return _CONTROL.search(head) is not None and len(_CONTROL.findall(head)) > 8


def extract_page(page: Page, options: ExtractOptions, seen: IdenticalPages | None = None) -> Extracted:
    """One page in, one document or one reject out. With `seen`, a page whose bytes were extracted
    recently is not extracted again (IdenticalPages)."""
    if len(page.html) > options.max_bytes:
        return rejected(page, "too_large", f"{len(page.html)} bytes > max_bytes {options.max_bytes}")
    if not page.html.strip():
        return rejected(page, "no_text", "empty page")
    if looks_binary(page.html):
        return rejected(page, "not_html", "binary content")
    memory = seen if seen is not None and seen.size > 0 else None  # size 0: off
    key = IdenticalPages.key(page) if memory is not None else None
    if memory is not None and key is not None and (known := memory.get(key, page)) is not None:
        return Extracted(document=known)
    result = extract_fields(decode_html(page.html, page.charset), page.url, options.favor_precision)
    if result is None:
        return rejected(page, "no_text", "no main text found")
    meta = result.metadata
    title = meta.headline  # declared.py cleaned every field it gives
    text = drop_headline(normalize_text(result.text), title)
    if not text:
        return rejected(page, "no_text", "no main text found")
    canonical = choose_canonical(page.url, result.url)
    text_hash = content_hash(text)
    document: DocumentRow = {
        "doc_id": doc_id(canonical, text_hash),
        "url": page.url,
        "canonical_url": canonical,
        "title": title,
        "page_title": meta.page_title if meta.page_title != title else None,
        "authors": meta.authors,
        **_moment("published", meta.published),  # type: ignore[typeddict-item]
        **_moment("modified", meta.modified),
        "section": meta.section,
        "image": meta.image,
        "language": choose_language(meta.language, text),
        "sitename": meta.sitename,
        "description": meta.description,
        "tags": _tags(meta.tags),
        "text": text,
        "word_count": count_words(text),
        "content_hash": text_hash,
        "duplicate_of": None,
        "page_type": meta.page_type,
        "published_meta": _PUBLISHED_META.search(page.html) is not None,
        "fetched_at": page.fetched_at,
        "origin": page.origin,
        "schema_version": SCHEMA_VERSION,
    }
    if options.signature is not None and options.signature.near:
        hashes = signature(text, options.signature)  # here: on all cores, not at commit
        document["bands"], document["paragraphs"] = hashes.bands, hashes.paragraphs
    if memory is not None and key is not None:
        memory.put(key, page, document, result.url)
    return Extracted(document=document)


def _moment(name: str, stamp: Stamp | None) -> dict[str, Any]:
    """The columns of a stated moment: `<name>_utc`, `_date` (published only), `_offset`, `_precision`."""
    columns: dict[str, Any] = {
        f"{name}_utc": stamp.utc if stamp else None,
        f"{name}_offset": stamp.offset if stamp else None,
        f"{name}_precision": stamp.precision if stamp else None,
    }
    if name == "published":
        columns["published_date"] = stamp.day if stamp else None
    return columns


def _tags(raw: list[str] | None) -> list[str]:
    tags: list[str] = []
    for item in raw or []:
        for part in item.split(","):
            tag = clean(part)
            if tag and tag not in tags:
                tags.append(tag)
    return tags
