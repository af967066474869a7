"""Quality filters, per source: pages that are not articles, texts too short, languages not wanted.

Applied to each extracted document before it is committed; a document that fails becomes a reject with
its reason, so nothing is dropped silently. Each filter is one function of (document, settings) that
returns (reason, detail) when the document fails it, else None; FILTERS runs them in order and the first
failure is the reject's reason. A new filter: its function appended to FILTERS, its setting a field of
config.FilterFields, a test in tests/test_filters.py.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from urllib.parse import urlsplit

from flows.config import FilterFields
from flows.records import DocumentRow, Extracted, reject_row

# Listing pages by their URL path: /tag/x, /category/x, /author/x, /topics/, /search, /page/2, /archive
_LISTING_PATH = re.compile(
    r"/(tags?|categor(y|ies)|topics?|authors?|search|archives?|page/\d+|sections?)(/|$)", re.IGNORECASE
)
_LISTING_QUERY = re.compile(r"(^|&)(s|q|query|search|page|tag|cat)=", re.IGNORECASE)
# Page types (og:type, schema.org @type) that are never a single article.
_LISTING_TYPES = {"profile", "collectionpage", "searchresultspage", "profilepage", "itemlist"}

Failure = tuple[str, str]  # (reason, detail)
Filter = Callable[[DocumentRow, FilterFields], Failure | None]


def not_an_article(url: str, page_type: str | None) -> str | None:
    """Why the page looks like a listing (tag, category, author, search, index page), or None."""
    parts = urlsplit(url)
    if parts.path in ("", "/") and parts.scheme in ("http", "https"):
        return "a site's front page"
    match = _LISTING_PATH.search(parts.path)
    if match:
        return f"a listing page ({match.group(0).strip('/')} in the URL)"
    if _LISTING_QUERY.search(parts.query):
        return "a listing page (search or paging parameters in the URL)"
    if page_type and page_type.lower().replace(" ", "") in _LISTING_TYPES:
        return f"a listing page (page type {page_type})"
    return None


def articles_only(document: DocumentRow, settings: FilterFields) -> Failure | None:
    if not settings.articles_only:
        return None
    why = not_an_article(document["canonical_url"] or document["url"], document.get("page_type"))
    if why is None and document["canonical_url"] != document["url"]:
        why = not_an_article(document["url"], None)
    return ("not_article", why) if why is not None else None


def min_words(document: DocumentRow, settings: FilterFields) -> Failure | None:
    if document["word_count"] < settings.min_words:
        return "too_short", f"{document['word_count']} words < min_words {settings.min_words}"
    return None


def languages(document: DocumentRow, settings: FilterFields) -> Failure | None:
    if settings.languages and document.get("language") not in settings.languages:
        return "language", f"language {document.get('language')!r} not in {list(settings.languages)}"
    return None


FILTERS: list[Filter] = [articles_only, min_words, languages]


def check(document: DocumentRow, settings: FilterFields) -> Failure | None:
    """The first filter the document fails, as (reason, detail); None when it passes them all."""
    for apply in FILTERS:
        failed = apply(document, settings)
        if failed is not None:
            return failed
    return None


def filtered(outcome: Extracted, settings: FilterFields) -> Extracted:
    """The outcome, or a reject when its document fails a filter."""
    document = outcome.document
    if document is None:
        return outcome
    failed = check(document, settings)
    if failed is None:
        return outcome
    reason, detail = failed
    return Extracted(
        reject=reject_row(document["url"], reason, detail, document["origin"], document["fetched_at"])
    )
