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
# Words of a listing path that also head single articles' addresses (/archive/63076, /section/world/...):
# with a byline and a date, or an article's id after them, such a path is an article.
_AMBIGUOUS_LISTING = frozenset({"archive", "archives", "section", "sections"})
# An article's id in the URL: a query parameter naming one item (news_view.html?idx=8576&page=1: the
# paging parameter is where the reader came from), or a last path segment with a number of 5+ digits
# (/archives/2024/10/16/2003825481, /archive/63076) or, after archive/section, a long slug.
_ITEM_QUERY = re.compile(
    r"(^|&)(id|idx|no|nid|aid|sid|docid|doc_id|newsid|news_id|articleid|article_id|article|story|"
    r"storyid|story_id|itemid|item_id|contentid|content_id|seq|p)=[\w-]+",
    re.IGNORECASE,
)
_ITEM_NUMBER = re.compile(r"^[^/]*\d{5,}[^/]*$")  # an id of 5+ digits, after any listing word
_ITEM_SLUG = re.compile(r"^([^\W_]+[-_]){3,}[^\W_]+(\.\w{2,5})?$")  # 4+ words, after archive/section only
# Page types (og:type, schema.org @type, as trafilatura reads them) that are never a single article...
_LISTING_TYPES = frozenset({"profile", "collectionpage", "searchresultspage", "profilepage", "itemlist"})
# ...and those that are one (Open Graph's article, schema.org's Article and its news kinds).
# schema.org types (lower-cased) whose page is one article: Article and the subtypes news pages use; also
# the object extract/declared.py reads a page's metadata from
ARTICLE_TYPES = frozenset(
    {
        "article",
        "newsarticle",
        "reportagenewsarticle",
        "analysisnewsarticle",
        "opinionnewsarticle",
        "backgroundnewsarticle",
        "reviewnewsarticle",
        "askpublicnewsarticle",
        "advertisercontentarticle",
        "satiricalarticle",
        "scholarlyarticle",
        "techarticle",
        "report",
        "blogposting",
        "liveblogposting",
        "socialmediaposting",
        "discussionforumposting",
        "medicalscholarlyarticle",
        "review",
    }
)

Failure = tuple[str, str]  # (reason, detail)
Filter = Callable[[DocumentRow, FilterFields], Failure | None]


def not_an_article(
    url: str, page_type: str | None, declared: bool = False, byline: bool = False
) -> str | None:
    """Why the page looks like a listing (tag, category, author, search, index page), or None.

    The page's own signals first: a listing page type (CollectionPage, ProfilePage...) says listing; an
    article page type (og:type article, JSON-LD NewsArticle...) or `declared` (article:published_time)
    says article, wherever its URL points. Only a page without such signals is judged by its URL, and there
    an article's id after the listing word keeps it; after archive or section (which head some outlets'
    article addresses) so does a long slug, an item parameter or a byline with a date (`byline`)."""
    kind = page_type.lower().replace(" ", "") if page_type else None
    if kind in _LISTING_TYPES:
        return f"a listing page (page type {page_type})"
    parts = urlsplit(url)
    if parts.path in ("", "/") and parts.scheme in ("http", "https") and not parts.query:
        return "a site's front page"
    if kind in ARTICLE_TYPES or declared:
        return None
    match = _LISTING_PATH.search(parts.path)
    if match:
        ambiguous = match.group(1).lower() in _AMBIGUOUS_LISTING
        last = parts.path[match.end() :].strip("/").rpartition("/")[2]
        if last and (_ITEM_NUMBER.match(last) or (ambiguous and _ITEM_SLUG.match(last))):
            return None
        if ambiguous and (byline or _ITEM_QUERY.search(parts.query)):
            return None
        return f"a listing page ({match.group(0).strip('/')} in the URL)"
    if _LISTING_QUERY.search(parts.query) and not _ITEM_QUERY.search(parts.query):
        return "a listing page (search or paging parameters in the URL)"
    return None


def articles_only(document: DocumentRow, settings: FilterFields) -> Failure | None:
    if not settings.articles_only:
        return None
    declared = bool(document.get("published_meta"))
    byline = bool(document["authors"]) and document["published_date"] is not None
    page_type = document.get("page_type")
    why = not_an_article(document["canonical_url"] or document["url"], page_type, declared, byline)
    if why is None and document["canonical_url"] != document["url"]:
        why = not_an_article(document["url"], page_type, declared, byline)
    return ("not_article", why) if why is not None else None


def min_words(document: DocumentRow, settings: FilterFields) -> Failure | None:
    if document["word_count"] < settings.min_words:
        return "too_short", f"{document['word_count']} words < min_words {settings.min_words}"
    return None


def languages(document: DocumentRow, settings: FilterFields) -> Failure | None:
    if settings.languages and document.get("language") not in settings.languages:
        return "language", f"language {document.get('language')!r} not in {list(settings.languages)}"
    return None


FILTERS: tuple[Filter, ...] = (articles_only, min_words, languages)


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
