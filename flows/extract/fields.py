"""trafilatura's main text and the metadata the warehouse stores, without the metadata it would throw away.

`bare_extraction(with_metadata=True)` also works out a page's categories and licence, which no column
holds: ~2.5 ms of a ~35 ms page (extract_catstags("category") 1.7 ms, extract_license 0.9 ms on the pages
of make_corpus.py). Here the page is parsed once by trafilatura's own loader, its metadata read from that
tree by trafilatura's own functions in trafilatura's order less those two (`stored_metadata` mirrors
`trafilatura.metadata.extract_metadata`, which only reads the tree), and the same tree then goes through
`bare_extraction` with metadata off (which copies it first: 0.9 ms). The extraction options are built once
per process and day rather than per page (reading trafilatura's settings costs ~0.5 ms a page).

The text and every stored field are what `bare_extraction(with_metadata=True)` gives:
tests/extract/test_trafilatura_fields.py compares the two on every test page, and pins the source of the
mirrored function so that a trafilatura upgrade that changes it fails a test instead of drifting silently.
"""

from __future__ import annotations

import copy
import functools
import logging
from datetime import datetime
from typing import Any

from courlan import extract_domain
from htmldate import find_date
from lxml.html import HtmlElement
from trafilatura import bare_extraction
from trafilatura.metadata import (
    META_URL,
    examine_meta,
    extract_author,
    extract_catstags,
    extract_meta_json,
    extract_sitename,
    extract_title,
    extract_url,
)
from trafilatura.settings import Document, Extractor
from trafilatura.utils import load_html

LOGGER = logging.getLogger(__name__)


def extract_fields(html: bytes | str, url: str | None, favor_precision: bool) -> Document | None:
    """The page's main text (comments left out) and stored metadata, as
    `bare_extraction(html, url=url, include_comments=False, favor_precision=..., with_metadata=True)`
    gives them; None where it gives None (no usable text, not HTML)."""
    options = _options(favor_precision, _today())
    try:  # as in bare_extraction: these errors mean "no document", not a failure
        tree = load_html(html, options.max_file_size)
        if tree is None:
            return None
        metadata = stored_metadata(tree, url, options.date_params)
    except (TypeError, ValueError):
        LOGGER.warning("discarding data: %s", url)
        return None
    page_options = copy.copy(options)
    page_options.url = url or metadata.url  # what bare_extraction hands its extraction sequence
    page_options.source = url and url.encode("utf-8", "replace").decode("utf-8")
    body = bare_extraction(tree, options=page_options)
    if not isinstance(body, Document):  # None: no usable text (a dict only with as_dict=True)
        return None
    metadata.text, metadata.raw_text, metadata.body = body.text, body.raw_text, body.body
    return metadata


def stored_metadata(tree: HtmlElement, default_url: str | None, date_params: dict[str, Any]) -> Document:
    """trafilatura.metadata.extract_metadata (2.3.1) with no author blacklist, less categories and licence."""
    metadata = examine_meta(tree)
    if metadata.author and " " not in metadata.author:
        metadata.author = None
    try:
        metadata = extract_meta_json(tree, metadata)
    except Exception as err:  # as trafilatura: bugs in its JSON-LD reading must not lose the page
        LOGGER.warning("error in JSON metadata extraction: %s", err)
    if not metadata.title:
        metadata.title = extract_title(tree)
    if not metadata.author:
        metadata.author = extract_author(tree)
    if not metadata.url:
        metadata.url = extract_url(tree, default_url)
    if metadata.url:
        metadata.hostname = extract_domain(metadata.url, fast=True)
    date_config = {**date_params, "url": metadata.url}
    metadata.date = find_date(tree, **date_config)
    if not metadata.sitename:
        metadata.sitename = extract_sitename(tree)
    if metadata.sitename:
        metadata.sitename = metadata.sitename.lstrip("@")
        if metadata.sitename and "." not in metadata.sitename and not metadata.sitename[0].isupper():
            metadata.sitename = metadata.sitename.title()
    elif metadata.url:
        match = META_URL.match(metadata.url)
        if match:
            metadata.sitename = match[1]
    if not metadata.tags:
        metadata.tags = extract_catstags("tag", tree)
    metadata.filedate = date_config.get("max_date")
    metadata.clean_and_trim()
    return metadata


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
