"""trafilatura's main text, and the page's metadata: what it declares first (extract/declared.py), then
trafilatura's heuristics for only the fields it does not declare.

`bare_extraction(with_metadata=True)` works out every metadata field by itself, whether the page declares it
or not, and some it throws away (categories, licence): its date search (htmldate), title and author searches
are most of the metadata's cost. Here the page is parsed once by trafilatura's own loader, the declared
fields are read from that tree, trafilatura's own functions run only for what is still missing, and the same
tree then goes through `bare_extraction` with metadata off (which copies it first). The text is exactly
`bare_extraction`'s (tests/extract/test_trafilatura_fields.py). The extraction options are built once per
process and day rather than per page (reading trafilatura's settings costs ~0.5 ms a page).
"""

from __future__ import annotations

import copy
import functools
import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from courlan import is_valid_url
from htmldate import find_date
from lxml.html import HtmlElement
from trafilatura import bare_extraction
from trafilatura.metadata import (
    META_URL,
    extract_catstags,
    extract_sitename,
    extract_title,
    extract_url,
)
from trafilatura.settings import Document, Extractor
from trafilatura.utils import load_html

from flows.extract.declared import (
    Declared,
    byline_authors,
    clean,
    read_declared,
    site_names,
    stamp_of_day,
    strip_site,
)

LOGGER = logging.getLogger(__name__)


@dataclass(slots=True)
class Fields:
    """A page's main text and metadata."""

    text: str
    metadata: Declared  # declared, completed by trafilatura's heuristics where the page declares nothing
    url: str | None  # the URL the page names for itself (canonical link, og:url), if any


def extract_fields(html: bytes | str, url: str | None, favor_precision: bool) -> Fields | None:
    """The page's main text, as `bare_extraction(html, url=url, include_comments=False,
    favor_precision=...)` gives it, and its metadata; None where bare_extraction gives None (no usable
    text, not HTML)."""
    options = _options(favor_precision, _today())
    try:  # as in bare_extraction: these errors mean "no document", not a failure
        tree = load_html(html, options.max_file_size)
        if tree is None:
            return None
        metadata = read_declared(tree, url, datetime.now(UTC))
        # as trafilatura: og:url, twitter:url, else the canonical link (else the URL it was read under)
        declared_url = next((u for u in metadata.urls if is_valid_url(u)), None) or extract_url(tree, url)
        complete_metadata(tree, metadata, declared_url, options.date_params)
    except (TypeError, ValueError):
        LOGGER.warning("discarding data: %s", url)
        return None
    page_options = copy.copy(options)
    page_options.url = url or declared_url  # what bare_extraction hands its extraction sequence
    page_options.source = url and url.encode("utf-8", "replace").decode("utf-8")
    body = bare_extraction(tree, options=page_options)
    if not isinstance(body, Document):  # None: no usable text (a dict only with as_dict=True)
        return None
    return Fields(body.text or "", metadata, declared_url)


def complete_metadata(
    tree: HtmlElement, metadata: Declared, url: str | None, date_params: dict[str, Any]
) -> None:
    """Trafilatura's heuristics (as `trafilatura.metadata.extract_metadata` 2.3.1 calls them) for each field
    the page does not declare believably."""
    if not metadata.sitename:
        sitename = clean(extract_sitename(tree))
        if sitename is None and url and (match := META_URL.match(url)):
            sitename = match[1]
        if sitename:
            sitename = sitename.lstrip("@")
            if sitename and "." not in sitename and not sitename[0].isupper():
                sitename = sitename.title()
        metadata.sitename = sitename or None
    if not metadata.headline:
        title = clean(extract_title(tree))
        metadata.headline = strip_site(title, metadata.sitename) if title else None
    if not metadata.authors:
        metadata.authors = byline_authors(tree, site_names(metadata.sitename, url))
    if metadata.published is None:
        # not extensive: the search of the whole text cost ~30 ms on some pages, and on the labelled pages
        # found more wrong days than right ones (date accuracy 0.943 with it, 0.951 without: bench_quality)
        search = {**date_params, "url": url, "extensive_search": False}
        metadata.published = stamp_of_day(find_date(tree, **search))
    if not metadata.tags:
        metadata.tags = [t for t in (clean(tag) for tag in extract_catstags("tag", tree)) if t]


def _today() -> str:
    """The local date, as trafilatura's date parameters hold it (dates after it are not taken)."""
    return datetime.now().astimezone().strftime("%Y-%m-%d")


@functools.lru_cache(maxsize=4)
def _options(favor_precision: bool, today: str) -> Extractor:
    """bare_extraction's own options for these arguments, built once per day (`today` keys the cache)."""
    return Extractor(
        output_format="python",
        precision=favor_precision,
        comments=False,
        with_metadata=False,
    )
